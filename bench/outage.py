"""The cost of a database outage, before and after fail-fast: each door's requests/s and latency with the database up
and while it is down, the time from its coming back to each door's first success, and the Lambda duration billed per
1,000 refused requests.

    python -m bench.outage [--baseline REV] [--duration S] [--clients C] [--refusal-budget S]

"after" is the work tree; "before" is REV (default HEAD, the commit before fail-fast while it is uncommitted; once it
is committed, the commit before it), exported with `git archive` into a scratch folder with this file copied in, so
that the same harness measures both and no switch exists for the bench. Each side runs in a process of its own whose
code is that tree's: an embedded PostgreSQL of its own with 1,000 students, both doors as `make run` starts them
(Flask: gunicorn, 1 worker × 4 threads, a pool of 4; Lambda: the tree's local gateway), the default settings (pool
timeout 1.5 s). Results: bench/results/outage.{json,md}.

Per door, one after the other: `--clients` threads send GET /students/{random id} for `--duration` s with the database
up; then PostgreSQL is stopped as a crash would (SIGQUIT to the postmaster: `pg_ctl stop -m immediate`) and the same
load runs for `--duration` s from that instant (the first requests, which learn of the outage, included); then it is
started again and one client asks every 10 ms until the door answers 200.

The Lambda figure is the handler's own time per refused invocation, in this process (the in-process handler is a fair
stand-in for what Lambda bills: the function's duration, rounded up to the millisecond, https://aws.amazon.com/lambda/pricing/):
a warm handler (50 invocations with the database up), the database stopped, then refused invocations for
`--refusal-budget` s (at most 1,000).
"""

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
TREE = BENCH_DIR.parent
FUNCTION_NAME = "student-records-api"
STUDENTS = 1000
MAX_REFUSALS = 1000


def log(message: str) -> None:
    print(f"[bench.outage {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- one side: runs inside the tree it measures ---------------------------------------------------------------


def measure_side(scratch: Path, duration_s: float, clients: int, refusal_budget_s: float) -> dict:
    from local_stack.dev_auth import auth_environment, issue_token
    from local_stack.embedded_postgres import EmbeddedPostgres
    from local_stack.run import start_flask_door, start_lambda_door
    from student_records.data import migrations

    from .common import UdpSink, free_port, wait_for_port

    server = EmbeddedPostgres(scratch / "postgres", log=log)
    server.start()
    sink = UdpSink()
    doors: dict[str, subprocess.Popen] = {}
    try:
        server.ensure_database("student_records")
        database_url = server.dsn("student_records")
        migrations.migrate(database_url)
        postgres_version = _add_students(database_url)
        env = {
            "DATABASE_URL": database_url,
            **auth_environment(scratch / "auth"),
            "AWS_XRAY_DAEMON_ADDRESS": sink.address,
            "AWS_EC2_METADATA_DISABLED": "true",
            "RATE_LIMIT": "1000000 per second",
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "4",
        }
        token = issue_token("admin", key_dir=scratch / "auth")
        ports = {}
        for name, start in (("flask", start_flask_door), ("lambda", start_lambda_door)):
            ports[name] = free_port()
            doors[name] = start(ports[name], env, (scratch / f"{name}.log").open("w"))
            wait_for_port(ports[name], doors[name], f"the {name} door")
        result = {"postgres": postgres_version, "doors": {}}
        for name, port in ports.items():
            result["doors"][name] = _door_outage(server, f"http://127.0.0.1:{port}", token, duration_s, clients)
        os.environ.update(env)
        result["lambda_in_process"] = _refused_invocations(server, token, refusal_budget_s)
        return result
    finally:
        for process in doors.values():
            process.terminate()
        for process in doors.values():
            process.wait(timeout=30)
        sink.close()
        server.stop()


def _add_students(database_url: str) -> str:
    """The students the load reads; returns the server's version."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            "INSERT INTO students (first_name, last_name, email) SELECT 'Bench', 'Student',"
            " 'bench-' || n || '@example.org' FROM generate_series(1, %s) AS n",
            (STUDENTS,),
        )
        return connection.execute("SHOW server_version").fetchone()[0]


def _get(url: str, token: str) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        error.read()
        return error.code


def _load(base_url: str, token: str, duration_s: float, clients: int) -> dict:
    """`clients` threads, each sending one request after another for `duration_s`."""
    samples: list[tuple[int, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration_s

    def client(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            status = _get(f"{base_url}/students/{rng.randint(1, STUDENTS)}", token)
            with lock:
                samples.append((status, time.perf_counter() - started))

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies = sorted(seconds for _, seconds in samples)
    statuses: dict[str, int] = {}
    for status, _ in samples:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "requests": len(samples),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(samples) / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.5) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1),
        "statuses": statuses,
    }


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _door_outage(server, base_url: str, token: str, duration_s: float, clients: int) -> dict:
    log(f"{base_url}: {duration_s:g} s up, {duration_s:g} s down")
    _load(base_url, token, 1, clients)  # warm: every thread's connection and the pool
    up = _load(base_url, token, duration_s, clients)
    server.crash()
    down = _load(base_url, token, duration_s, clients)
    server.start()
    accepting = time.monotonic()
    while _get(f"{base_url}/students/count", token) != 200:
        if time.monotonic() - accepting > 60:
            raise RuntimeError(f"{base_url} did not recover within 60 s")
        time.sleep(0.01)  # a client's retry pace
    return {"up": up, "outage": down, "first_success_after_restart_s": round(time.monotonic() - accepting, 3)}


def _refused_invocations(server, token: str, budget_s: float) -> dict:
    from local_stack.gateway import build_rest_event, invoke, lambda_runtime_environment

    os.environ.update(lambda_runtime_environment(FUNCTION_NAME))
    from handlers.api import lambda_handler  # only now: Powertools reads the Lambda environment at import
    from rest_contract.operations import OPERATIONS

    templates = [operation.path for operation in OPERATIONS]
    rng = random.Random(7)

    def call() -> tuple[int, float]:
        event = build_rest_event(
            "GET",
            f"/students/{rng.randint(1, STUDENTS)}",
            route_templates=templates,
            headers=[("Authorization", f"Bearer {token}")],
        )
        started = time.perf_counter()
        status = invoke(lambda_handler, event, function_name=FUNCTION_NAME)["statusCode"]
        return status, time.perf_counter() - started

    warm = [call() for _ in range(50)]
    if any(status != 200 for status, _ in warm):
        raise RuntimeError(f"warm invocations answered {sorted({status for status, _ in warm})}")
    server.crash()
    refused: list[float] = []
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline and len(refused) < MAX_REFUSALS:
        status, seconds = call()
        if status != 503:
            raise RuntimeError(f"an invocation during the outage answered {status}")
        refused.append(seconds)
    server.start()
    billed_ms = [math.ceil(seconds * 1000) for seconds in refused]
    ordered = sorted(refused)
    return {
        "refused": len(refused),
        "p50_ms": round(_percentile(ordered, 0.5) * 1000, 2),
        "p99_ms": round(_percentile(ordered, 0.99) * 1000, 2),
        "first_ms": round(refused[0] * 1000, 1),
        "billed_s_per_1000": round(sum(billed_ms) / len(billed_ms), 2),  # mean billed ms × 1,000 / 1,000 ms
        "billed_s_per_1000_after_first": round(sum(billed_ms[1:]) / max(len(billed_ms) - 1, 1), 2),
    }


# ---- both sides, and the results -------------------------------------------------------------------------------


def run_side(tree: Path, label: str, args: argparse.Namespace, scratch: Path) -> dict:
    """One side in a fresh interpreter whose code is `tree`'s; its logs and EMF go to a file."""
    out = scratch / f"{label}.json"
    command = [
        sys.executable,
        "-m",
        "bench.outage",
        "--side",
        str(scratch / label),
        "--out",
        str(out),
        "--duration",
        str(args.duration),
        "--clients",
        str(args.clients),
        "--refusal-budget",
        str(args.refusal_budget),
    ]
    log(f"{label}: {tree}")
    with (scratch / f"{label}-stdout.log").open("w") as stdout:
        subprocess.run(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, stdout=stdout, check=True)
    return json.loads(out.read_text())


def baseline_tree(revision: str, scratch: Path) -> tuple[Path, str]:
    commit = _git("rev-parse", "--short", revision).strip()
    tree = scratch / f"tree-{commit}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=TREE, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    shutil.copy(Path(__file__), tree / "bench" / "outage.py")  # the same harness on both sides
    return tree, commit


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=TREE, capture_output=True, text=True, check=True).stdout


def report(results: dict) -> str:
    lines = [
        "# The cost of a database outage",
        "",
        (
            f"Before: {results['before']['revision']} (no fail-fast). After: the work tree on "
            f"{results['after']['revision']}"
            f" ({len(results['after']['modified'])} files changed). {results['machine']}, load average"
            f" {results['load_average_before']} at the start. Each door: "
            f"{results['clients']} clients, {results['duration_s']:g} s with the database up, "
            f"{results['duration_s']:g} s"
            " from the instant it stopped (`-m immediate`)."
        ),
        "",
        (
            "| door | | up: req/s | up: p99 ms | outage: req/s | outage: p50 ms | outage: p99 ms | outage: max ms |"
            " outage statuses | first success after restart |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for door in ("flask", "lambda"):
        for side in ("before", "after"):
            figures = results[side]["doors"][door]
            up, down = figures["up"], figures["outage"]
            lines.append(
                f"| {door} | {side} | {up['requests_per_s']:,} | {up['p99_ms']:,} | {down['requests_per_s']:,} |"
                f" {down['p50_ms']:,} | {down['p99_ms']:,} | {down['max_ms']:,} | {down['statuses']} |"
                f" {figures['first_success_after_restart_s']} s |"
            )
    lines += [
        "",
        "Lambda handler in this process, refused invocations (database down):",
        "",
        "| | refused | first ms | p50 ms | p99 ms | billed s per 1,000 refused | the same, after the first |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for side in ("before", "after"):
        figures = results[side]["lambda_in_process"]
        lines.append(
            f"| {side} | {figures['refused']} | {figures['first_ms']} | {figures['p50_ms']} |"
            f" {figures['p99_ms']} | {figures['billed_s_per_1000']:,} |"
            f" {figures['billed_s_per_1000_after_first']:,} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.outage", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", default="HEAD", help="the revision before fail-fast (default HEAD)")
    parser.add_argument("--duration", type=float, default=5, help="seconds of load up and down, per door (default 5)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients per door (default 8)")
    parser.add_argument(
        "--refusal-budget", type=float, default=45, help="seconds of refused Lambda invocations at most (default 45)"
    )
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results", help="default: bench/results")
    parser.add_argument("--side", type=Path, help=argparse.SUPPRESS)  # one side, in its tree's interpreter
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.side is not None:
        args.side.mkdir(parents=True)
        result = measure_side(args.side, args.duration, args.clients, args.refusal_budget)
        args.out.write_text(json.dumps(result))
        return 0

    from .common import machine_description

    (TREE / ".data").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-outage-", dir=TREE / ".data"))
    load_before = os.getloadavg()[0]  # the machine is shared: how busy it was, beside the figures
    try:
        before_tree, before_commit = baseline_tree(args.baseline, scratch)
        before = {"revision": before_commit, **run_side(before_tree, "before", args, scratch)}
        after = {
            "revision": _git("rev-parse", "--short", "HEAD").strip(),
            "modified": [line[3:] for line in _git("status", "--porcelain").splitlines()],
            **run_side(TREE, "after", args, scratch),
        }
        results = {
            "machine": machine_description(after["postgres"]),
            "load_average_before": round(load_before, 2),
            "duration_s": args.duration,
            "clients": args.clients,
            "before": before,
            "after": after,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "outage.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.results / "outage.md").write_text(report(results))
    sys.stdout.write(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
