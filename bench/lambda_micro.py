"""Warm Lambda invocations in-process: the bare resolver (bench/bare_lambda.py) against the project's fully
instrumented handlers.api.lambda_handler, both reading a random student by id, in alternating blocks.

Run by `python -m bench` in a process of its own, whose environment is the Lambda runtime's from the start
(the X-Ray SDK and Powertools decide at import whether they run in Lambda):

    DATABASE_URL=... AUTH_...=... BENCH_TOKEN=... AWS_XRAY_DAEMON_ADDRESS=127.0.0.1:PORT \
        python -m bench.lambda_micro --rows N --out result.json > handler-stdout.log
"""

import argparse
import json
import os
import random
import time
from pathlib import Path

from local_stack.gateway import LambdaContext, build_rest_event, lambda_runtime_environment, new_trace_header

from .common import LAMBDA_FUNCTION_NAME, median, percentile

TRACE_HEADER = "X-Amzn-Trace-Id"
WARMUP_INVOCATIONS = 300


def rest_events(rows: int, token: str, count: int, route_templates: list[str]) -> list[dict]:
    rng = random.Random(11)
    headers = [("Authorization", f"Bearer {token}"), ("Accept", "application/json"), ("User-Agent", "bench")]
    return [
        build_rest_event("GET", f"/students/{rng.randint(1, rows)}", headers=headers, route_templates=route_templates)
        for _ in range(count)
    ]


def invoke_timed(handler, event: dict) -> tuple[float, float]:
    """(wall µs, CPU µs of this thread) inside the handler only; what the runtime does around it (a fresh trace
    id in the environment, the context object, the trace header in the event) is prepared outside the timed
    region, the same for both. CPU leaves out the wait for PostgreSQL and for a busy machine's run queue."""
    trace_id = new_trace_header(None)
    os.environ["_X_AMZN_TRACE_ID"] = trace_id
    event = {
        **event,
        "headers": {**event["headers"], TRACE_HEADER: trace_id},
        "multiValueHeaders": {**event["multiValueHeaders"], TRACE_HEADER: [trace_id]},
    }
    context = LambdaContext(LAMBDA_FUNCTION_NAME)
    cpu_started, started = time.thread_time_ns(), time.perf_counter_ns()
    result = handler(event, context)
    wall_us, cpu_us = (time.perf_counter_ns() - started) / 1000, (time.thread_time_ns() - cpu_started) / 1000
    if result["statusCode"] != 200:
        raise RuntimeError(f"invocation answered {result['statusCode']}: {result.get('body', '')[:300]}")
    return wall_us, cpu_us


def measure(handlers: dict, events: list[dict], blocks: int, block_size: int) -> dict:
    for handler in handlers.values():
        for event in events[:WARMUP_INVOCATIONS]:
            invoke_timed(handler, event)
    samples: dict[str, list[float]] = {name: [] for name in handlers}
    cpu_samples: dict[str, list[float]] = {name: [] for name in handlers}
    block_medians: dict[str, list[float]] = {name: [] for name in handlers}
    names = list(handlers)
    for block in range(blocks):
        # Alternating which goes first, so neither always runs right after the other.
        for name in names if block % 2 == 0 else reversed(names):
            timings = [
                invoke_timed(handlers[name], events[(block * block_size + i) % len(events)]) for i in range(block_size)
            ]
            samples[name] += [wall for wall, _ in timings]
            cpu_samples[name] += [cpu for _, cpu in timings]
            block_medians[name].append(median([wall for wall, _ in timings]))
    return {"samples": samples, "cpu_samples": cpu_samples, "block_medians": block_medians}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--blocks", type=int, default=30)
    parser.add_argument("--block-size", type=int, default=100)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    os.environ.update(lambda_runtime_environment(LAMBDA_FUNCTION_NAME))
    from bench.bare_lambda import lambda_handler as bare_handler
    from handlers.api import lambda_handler as instrumented_handler
    from rest_contract.operations import OPERATIONS

    events = rest_events(
        args.rows,
        os.environ["BENCH_TOKEN"],
        args.blocks * args.block_size,
        [operation.path for operation in OPERATIONS],
    )
    measured = measure(
        {"bare": bare_handler, "instrumented": instrumented_handler}, events, args.blocks, args.block_size
    )
    samples, block_medians = measured["samples"], measured["block_medians"]
    ratios = [top / bottom for top, bottom in zip(block_medians["instrumented"], block_medians["bare"], strict=False)]
    result = {
        name: {
            "p50_us": round(median(values), 1),
            "p99_us": round(percentile(values, 0.99), 1),
            "cpu_p50_us": round(median(measured["cpu_samples"][name]), 1),
            "invocations": len(values),
        }
        for name, values in samples.items()
    }
    result["instrumented_over_bare"] = {
        "median": round(median(ratios), 3),
        "min": round(min(ratios), 3),
        "max": round(max(ratios), 3),
    }
    args.out.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
