"""`make bench`: one run, every measurement side by side, results in bench/results/latest.{json,md,png}.

python -m bench [--rows N] [--rows-10m] [--duration S] [--repeats R] [--no-sam-build] [--keep-db]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .common import BENCH_DIR, REPO_ROOT, RESULTS_DIR, SCRATCH_DIR, UdpSink, log, machine_description

REQUIREMENTS = BENCH_DIR / "requirements.txt"
TEN_MILLION = 10_000_000


def ensure_requirements(requirements: Path = REQUIREMENTS) -> None:
    """Installs the bench's pinned extras into this (the app's) venv when one is missing or at another version."""
    pins = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    for pin in filter(None, pins):
        name, version = pin.split("==")
        try:
            if metadata.version(name) == version:
                continue
        except metadata.PackageNotFoundError:
            pass
        log(f"installing {requirements.relative_to(REPO_ROOT)} into {sys.prefix}")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(requirements)],
            check=True,
        )
        return


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows",
        type=int,
        default=int(os.environ.get("BENCH_ROWS", "1000000")),
        help="students imported (student-records-import) before the other phases (default: BENCH_ROWS or 1,000,000)",
    )
    parser.add_argument(
        "--rows-10m",
        action="store_true",
        help="at the end, grow the table to 10M students and measure the database again",
    )
    # Five short rounds rather than three long ones: on this shared VM a run's throughput can halve for tens of
    # seconds, and a median of five pairs, each measured seconds apart, shrugs off two such runs.
    parser.add_argument(
        "--duration",
        type=int,
        default=int(os.environ.get("BENCH_DURATION_S", "6")),
        help="seconds per wrk run (default 6)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds per workload (default 5)")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    parser.add_argument("--no-sam-build", action="store_true", help="skip sam build (its size is then null)")
    parser.add_argument("--keep-db", action="store_true", help="leave the scratch database in .data/bench/")
    return parser.parse_args()


def run_module(module: str, args: list[str], env: dict[str, str], stdout_path: Path) -> None:
    """A phase in a fresh interpreter, its stdout (the handlers' logs) to a file, its result to a file."""
    with stdout_path.open("w") as stdout:
        subprocess.run(
            [sys.executable, "-m", module, *args], cwd=REPO_ROOT, env={**os.environ, **env}, stdout=stdout, check=True
        )


def working_tree() -> dict:
    """What was measured: the commit, and the files changed on top of it (the bench measures the work tree)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False).stdout

    return {
        "commit": git("rev-parse", "--short", "HEAD").strip(),
        "modified": [line[3:] for line in git("status", "--porcelain", "--untracked-files=no").splitlines()],
    }


def rows_key(rows: int) -> str:
    """1m, 10m, 250k: how the results name a table size."""
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    return f"{rows // 1000}k" if rows % 1000 == 0 else str(rows)


def database_latencies(database_url: str, rows: int, scratch: Path) -> dict:
    out = scratch / f"db-latency-{rows}.json"
    run_module(
        "bench.db_latency",
        ["--rows", str(rows), "--out", str(out)],
        {"DATABASE_URL": database_url, "OBSERVABILITY": "off"},
        scratch / "db-latency.out",
    )
    return json.loads(out.read_text())


def main() -> int:
    args = parse_args()
    started = time.monotonic()
    phase_seconds: dict[str, float] = {}

    def phase_done(name: str, since: float) -> float:
        phase_seconds[name] = round(time.monotonic() - since, 1)
        return time.monotonic()

    busy_before = os.getloadavg()[0]
    if busy_before > 0.5:
        log(f"load average {busy_before:.2f} before the bench: other processes are busy, numbers will be noisier")
    ensure_requirements()
    # Imported only now: they need the packages above, and the project's modules pull in the app's signals.
    from application.settings import Settings
    from local_stack.dev_auth import auth_environment, issue_token
    from student_records.paging import Pager

    from . import bulk_import, cold_import, http_load, report
    from .database import BenchDatabase

    http_load.ensure_wrk()
    SCRATCH_DIR.mkdir(parents=True, exist_ok=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    auth_env = auth_environment(SCRATCH_DIR / "auth")
    token = issue_token("admin", subject="bench", ttl_s=6 * 3600, key_dir=SCRATCH_DIR / "auth")
    sink = UdpSink()
    database = BenchDatabase()
    results: dict = {
        "rows": args.rows,
        "code": working_tree(),
        "settings": {
            "wrk_duration_s": args.duration,
            "repeats": args.repeats,
            "wrk_connections": args.connections,
            "wrk_threads": 1,
            "gunicorn_workers": os.cpu_count(),
            "gunicorn_threads": 4,
            "db_pool_size": 4,
        },
    }
    doors: dict = {}
    try:
        mark = time.monotonic()
        database.start_fresh()
        # The table is filled by the project's own import path, and that load is the bulk-create measurement.
        results["bulk_import"] = bulk_import.import_generated_students(database.url, args.rows, SCRATCH_DIR)
        database.imported(args.rows)
        mark = phase_done("import", mark)
        facts = database.server_facts()
        results["postgres"] = facts
        results["machine"] = machine_description(facts["server_version"])
        log(f"machine: {results['machine']}")

        log("database latencies through the data layer (OBSERVABILITY=off)")
        database.checkpoint()
        results["database"] = {rows_key(args.rows): database_latencies(database.url, args.rows, SCRATCH_DIR)}
        mark = phase_done("database", mark)

        log(f"HTTP: 3 doors x 5 workloads x {args.repeats} rounds of {args.duration} s")
        shape = http_load.LoadShape(connections=args.connections, threads=1)
        common_env = http_load.server_environment(database.url, auth_env, workers=os.cpu_count() or 1, threads=4)
        database.checkpoint()
        doors = http_load.start_doors(common_env, sink.address, SCRATCH_DIR / "servers")
        # A deep page's cursor, signed as the doors sign theirs (they read CURSOR_SIGNING_KEY from this environment).
        cursors = Pager(
            Settings.from_environ({**os.environ, **common_env}).cursors.signing_key.get_secret_value().encode()
        )
        plan = http_load.workloads(args.rows, cursors.cursor(max(0, args.rows - 10_000), (None, None)))
        http_load.check_answers(doors, plan, token)
        datagrams_before = sink.datagrams
        runs = http_load.load_all(
            doors,
            plan,
            shape,
            args.duration,
            args.repeats,
            token,
            args.rows,
            SCRATCH_DIR / "wrk",
            database.postmaster_pid(),
        )
        results["http"] = {
            "runs": runs,
            "summary": http_load.summarize(runs, plan),
            "signals": {name: door.json_lines_written() for name, door in doors.items()},
        }
        results["http"]["signals"]["xray_datagrams"] = sink.datagrams - datagrams_before
        for door in doors.values():
            door.stop()
        mark = phase_done("http", mark)

        log("Lambda: warm invocations in-process, bare resolver vs instrumented handler")
        database.checkpoint()
        datagrams_before = sink.datagrams
        lambda_out = SCRATCH_DIR / "lambda.json"
        run_module(
            "bench.lambda_micro",
            ["--rows", str(args.rows), "--out", str(lambda_out)],
            {**auth_env, "DATABASE_URL": database.url, "BENCH_TOKEN": token, "AWS_XRAY_DAEMON_ADDRESS": sink.address},
            SCRATCH_DIR / "lambda-handlers.out",
        )
        results["lambda"] = {
            "warm": json.loads(lambda_out.read_text()),
            "xray_datagrams": sink.datagrams - datagrams_before,
        }
        mark = phase_done("lambda_warm", mark)

        log("Lambda: cold import of each handler module (-X importtime, fresh processes)")
        results["lambda"]["cold_import_ms"] = {
            "instrumented": cold_import.import_ms("handlers.api"),
            "bare": cold_import.import_ms("bench.bare_lambda"),
        }
        cold_start_out = SCRATCH_DIR / "cold-start.json"
        log("Lambda: import + first invocation in fresh processes (what a cold start's first client waits)")
        run_module(
            "bench.cold_start",
            ["--out", str(cold_start_out)],
            {**auth_env, "DATABASE_URL": database.url, "BENCH_TOKEN": token, "AWS_XRAY_DAEMON_ADDRESS": sink.address},
            SCRATCH_DIR / "cold-start.out",
        )
        results["lambda"]["cold_start_ms"] = json.loads(cold_start_out.read_text())
        results["lambda"]["sam_build"] = (
            {"unzipped_bytes": None, "reason": "skipped (--no-sam-build)"}
            if args.no_sam_build
            else cold_import.sam_artifact()
        )
        mark = phase_done("lambda_cold", mark)

        if args.rows_10m and args.rows < TEN_MILLION:
            log("growing the table to 10M students")
            # The rows POST /students added stay: the table ends a little over 10M.
            more = database.load_students(TEN_MILLION)
            results["bulk_create_10m_extension"] = {
                "rows": more.rows,
                "copy_seconds": round(more.copy_seconds, 2),
                "rows_per_s": round(more.rows_per_s),
            }
            results["database"]["10m"] = database_latencies(database.url, database.table_rows(), SCRATCH_DIR)
            phase_done("rows_10m", mark)
    finally:
        for door in doors.values():
            door.stop()
        if database.url:
            database.stop(keep_data=args.keep_db)
        sink.close()

    phase_seconds["total"] = round(time.monotonic() - started, 1)
    results["phase_seconds"] = phase_seconds
    results["load_average_before"] = round(busy_before, 2)
    results["niceness"] = os.nice(0)
    report.write(results, RESULTS_DIR)
    log(f"done in {phase_seconds['total']:.0f} s: {RESULTS_DIR}/latest.md")
    print((RESULTS_DIR / "latest.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
