"""One door (a Flask app or a Lambda handler) served in-process, with no network and no server: wall and
CPU µs per GET /students/{random id}, measured in blocks the parent asks for, and optionally a pyinstrument
profile. CPU (this thread's) leaves out waiting for PostgreSQL, whose latency swings with the disk's.

The parent (bench/profile.py) starts one worker per variant, each with its own environment (OBSERVABILITY,
LOG_LEVEL, AWS_XRAY_SDK_ENABLED are read at import), then asks them for blocks in turn over a pipe, so
that the variants are interleaved while every process stays warm:

    python -m bench.inprocess --kind flask --module flask_backend.wsgi --control-fd 5 --rows N
    (stdin: a block size per line; control fd: one JSON line per block)
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from .common import LAMBDA_FUNCTION_NAME, median

PROFILE_INTERVAL_S = 0.0001


def flask_caller(module: str, token: str, rows: int):
    from werkzeug.test import EnvironBuilder

    app = __import__(module, fromlist=["app"]).app
    rng = random.Random(5)
    environs = [
        EnvironBuilder(
            path=f"/students/{rng.randint(1, rows)}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json", "User-Agent": "bench"},
        ).get_environ()
        for _ in range(1000)
    ]
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def call(index: int) -> tuple[float, float]:
        environ = dict(environs[index % len(environs)])
        cpu_started, started = time.thread_time_ns(), time.perf_counter_ns()
        body = app(environ, start_response)
        for _ in body:
            pass
        if hasattr(body, "close"):
            body.close()  # Flask's teardown (and the X-Ray segment's end) runs here
        wall_us, cpu_us = (time.perf_counter_ns() - started) / 1000, (time.thread_time_ns() - cpu_started) / 1000
        if not statuses.pop().startswith("200"):
            raise RuntimeError(f"{module} did not answer 200")
        return wall_us, cpu_us

    return call


def lambda_caller(module: str, token: str, rows: int):
    from local_stack.gateway import lambda_runtime_environment

    # Before the handler's import, as in a real execution environment.
    os.environ.update(lambda_runtime_environment(LAMBDA_FUNCTION_NAME))
    from rest_contract.operations import OPERATIONS

    from .lambda_micro import invoke_timed, rest_events

    handler = __import__(module, fromlist=["lambda_handler"]).lambda_handler
    events = rest_events(rows, token, 1000, [operation.path for operation in OPERATIONS])
    return lambda index: invoke_timed(handler, events[index % len(events)])


def profile(call, requests: int, text_path: Path) -> dict:
    """A pyinstrument profile of `requests` calls, clocked by this thread's CPU time (not wall time: a UDP send
    that wakes the receiver, or a commit waiting for the disk, would otherwise count as work): the tree as
    text, and each frame's CPU per request."""
    from pyinstrument import Profiler
    from pyinstrument.stack_sampler import get_stack_sampler

    get_stack_sampler().timer_func = time.thread_time
    profiler = Profiler(interval=PROFILE_INTERVAL_S, async_mode="disabled")
    profiler.start()
    for index in range(requests):
        call(index)
    session = profiler.stop()
    text_path.write_text(profiler.output_text(unicode=True, color=False, show_all=False, time="seconds"))
    root = session.root_frame()
    return {"profiled_cpu_us_per_request": root.time / requests * 1e6, "frames": frame_totals(root, requests)}


def frame_totals(root, requests: int) -> list[dict]:
    """Inclusive and self µs per request of each function (file:line of its definition), counted once per
    stack even when it recurses."""
    totals: dict[tuple[str, str, int], list[float]] = {}

    def visit(frame, on_stack: frozenset) -> None:
        key = (frame.function or "", frame.file_path_short or "", frame.line_no or 0)
        entry = totals.setdefault(key, [0.0, 0.0])
        if key not in on_stack:
            entry[0] += frame.time
        entry[1] += frame.total_self_time
        for child in frame.children:
            visit(child, on_stack | {key})

    visit(root, frozenset())
    return sorted(
        (
            {
                "function": function,
                "file": file,
                "line": line,
                "inclusive_us": inclusive / requests * 1e6,
                "self_us": self_time / requests * 1e6,
            }
            for (function, file, line), (inclusive, self_time) in totals.items()
        ),
        key=lambda frame: -frame["inclusive_us"],
    )[:400]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=("flask", "lambda"), required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--control-fd", type=int, required=True)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--profile-requests", type=int, default=0)
    parser.add_argument("--profile-text", type=Path)
    args = parser.parse_args()

    make_caller = flask_caller if args.kind == "flask" else lambda_caller
    call = make_caller(args.module, os.environ["BENCH_TOKEN"], args.rows)
    for index in range(args.warmup):
        call(index)
    served = args.warmup
    with os.fdopen(args.control_fd, "w") as control:
        control.write(json.dumps({"ready": True}) + "\n")
        control.flush()
        for line in sys.stdin:
            block = [call(served + index) for index in range(int(line))]
            served += len(block)
            control.write(
                json.dumps(
                    {"wall_us": median([wall for wall, _ in block]), "cpu_us": median([cpu for _, cpu in block])}
                )
                + "\n"
            )
            control.flush()
        if args.profile_requests:
            result = profile(lambda index: call(served + index), args.profile_requests, args.profile_text)
            control.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
