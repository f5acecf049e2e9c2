"""`make bench`: the cost of each layer of the student records API, measured side by side.

    python -m bench            # everything, 1M students (BENCH_ROWS to change)
    python -m bench.profile    # where the instrumented doors spend their extra time

Kept free of imports: `bench.bare_lambda` is cold-imported as a Lambda handler, and this file is part of it.
"""
