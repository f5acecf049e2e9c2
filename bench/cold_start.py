"""Cold start as a client sees it: a fresh interpreter imports the handler module, then serves its first
GET /students/{id} (the pool's first connection, the token's first verification, the models' first build),
in the Lambda runtime's environment. The import alone is what `-X importtime` reports (cold_import.py);
this adds the first invocation, so that work moved out of the import (lazy imports, models built on first
use) is still counted.

    python -m bench.cold_start --runs 5 --out result.json   (env: DATABASE_URL, AUTH_*, BENCH_TOKEN, ...)
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from local_stack.gateway import lambda_runtime_environment

from .common import LAMBDA_FUNCTION_NAME, REPO_ROOT, median

HANDLERS = {"bare": "bench.bare_lambda", "instrumented": "handlers.api"}


# Nothing but `time` is imported before the handler module, so that its import is timed whole.
_CHILD = """
import time
started = time.perf_counter()
import {module} as handler_module
imported = time.perf_counter()
from bench.cold_start import report_first_invocation
report_first_invocation(handler_module.lambda_handler, (imported - started) * 1000)
"""


def report_first_invocation(handler, import_ms: float) -> None:
    """In the child, once the handler module is imported: its first invocation, timed; one JSON line out."""
    from .lambda_micro import invoke_timed, rest_events

    event = rest_events(1, os.environ["BENCH_TOKEN"], 1, ["/students/{student_id}"])[0]
    wall_us, _ = invoke_timed(handler, event)
    sys.stdout.flush()
    print(json.dumps({"import_ms": import_ms, "first_invocation_ms": wall_us / 1000}))  # after the handler's logs


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Median over `runs` fresh processes per handler, interleaved; bytecode caches written by a first run."""
    env = {**os.environ, **lambda_runtime_environment(LAMBDA_FUNCTION_NAME)}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in HANDLERS}
    for run in range(runs + 1):
        for name, module in HANDLERS.items():
            completed = subprocess.run(
                [sys.executable, "-c", _CHILD.format(module=module)],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            if completed.returncode != 0:
                raise RuntimeError(f"cold start of {module} failed:\n{completed.stderr[-2000:]}")
            if run:  # the first run writes the bytecode caches
                samples[name].append(json.loads(completed.stdout.strip().splitlines()[-1]))
    return {
        name: {
            key: round(median([sample[key] for sample in values]), 1) for key in ("import_ms", "first_invocation_ms")
        }
        | {"total_ms": round(median([sample["import_ms"] + sample["first_invocation_ms"] for sample in values]), 1)}
        for name, values in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.out.write_text(json.dumps(measure(args.runs)))


if __name__ == "__main__":
    main()
