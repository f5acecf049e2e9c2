"""`python -m bench.profile`: where the project's doors spend the time the baseline does not.

1. In-process ladders (no network, no server, one request at a time): CPU and wall µs per GET /students/{id}
   for the baseline, the door with OBSERVABILITY=off, without traces, without the request log line, fully
   instrumented, and with X-Ray's default sampling; the same for the Lambda handler against the bare
   resolver. Variants run in processes of their own (the switches are read at import) and are interleaved
   block by block.
2. pyinstrument profiles of those requests, clocked by CPU time: every function's time per request, file:line.
3. The pieces the baseline skips, timed alone (bench/components.py).
4. Bulk create: COPY with and without generated student numbers and the secondary indexes.
5. The cold import, by top-level package.

Under load, where each door's CPU goes (its workers, PostgreSQL, wrk) is measured by `python -m bench` itself.

Results: bench/results/profile.{json,md} and the pyinstrument trees in bench/results/profiles/.
    python -m bench.profile [--rows N] [--rounds R] [--block B]
"""

import argparse
import collections
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .common import REPO_ROOT, RESULTS_DIR, SCRATCH_DIR, UdpSink, log, median

PROFILE_REQUIREMENTS = Path(__file__).with_name("requirements-profile.txt")
PROFILES_DIR = RESULTS_DIR / "profiles"
PROFILED_REQUESTS = 1500


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str  # flask | lambda
    module: str
    env: dict[str, str] = field(default_factory=dict)
    profiled: bool = False


FLASK = "flask_backend.wsgi"
LAMBDA = "handlers.api"
VARIANTS = (
    Variant("flask baseline", "flask", "bench.baseline_app", profiled=True),
    Variant("flask off", "flask", FLASK, {"OBSERVABILITY": "off"}, profiled=True),
    Variant("flask no traces", "flask", FLASK, {"AWS_XRAY_SDK_ENABLED": "false"}),
    Variant("flask no request log", "flask", FLASK, {"LOG_LEVEL": "WARNING"}),
    Variant("flask full", "flask", FLASK, profiled=True),
    # What production runs: X-Ray's default rules (1 request/s, then 5 %) instead of every request.
    Variant("flask full, default sampling", "flask", FLASK, {"XRAY_SAMPLING": "centralized"}),
    Variant("lambda bare", "lambda", "bench.bare_lambda", profiled=True),
    Variant("lambda off", "lambda", LAMBDA, {"OBSERVABILITY": "off"}, profiled=True),
    Variant("lambda no traces", "lambda", LAMBDA, {"AWS_XRAY_SDK_ENABLED": "false"}),
    Variant("lambda no request log", "lambda", LAMBDA, {"LOG_LEVEL": "WARNING"}),
    Variant("lambda full", "lambda", LAMBDA, profiled=True),
)


class Worker:
    """A bench.inprocess process serving one variant, driven over stdin and a control pipe."""

    def __init__(self, variant: Variant, rows: int, env: dict[str, str], log_dir: Path) -> None:
        self.variant = variant
        read_fd, write_fd = os.pipe()
        slug = variant.name.replace(" ", "-")
        self.profile_text = PROFILES_DIR / f"{slug}.txt"
        command = [
            sys.executable,
            "-m",
            "bench.inprocess",
            "--kind",
            variant.kind,
            "--module",
            variant.module,
            "--rows",
            str(rows),
            "--control-fd",
            str(write_fd),
        ]
        if variant.profiled:
            command += ["--profile-requests", str(PROFILED_REQUESTS), "--profile-text", str(self.profile_text)]
        self._output = (log_dir / f"{slug}.out").open("w")
        self.process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**os.environ, **env, **variant.env},
            stdin=subprocess.PIPE,
            text=True,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self._control = os.fdopen(read_fd)
        self._reply()  # ready: imported and warmed up

    def _reply(self) -> dict:
        line = self._control.readline()
        if not line:
            raise RuntimeError(f"{self.variant.name} stopped; see {self._output.name}")
        return json.loads(line)

    def block(self, requests: int) -> dict[str, float]:
        """Median wall and CPU µs per request over a block of `requests`."""
        self.process.stdin.write(f"{requests}\n")
        self.process.stdin.flush()
        return self._reply()

    def finish(self) -> dict | None:
        self.process.stdin.close()
        result = self._reply() if self.variant.profiled else None
        self.process.wait(timeout=60)
        self._output.close()
        return result


def ladders(rows: int, env: dict[str, str], rounds: int, block: int) -> dict:
    """Median wall and CPU µs per request of each variant, blocks interleaved in rotating order; profiles at
    the end."""
    log_dir = SCRATCH_DIR / "profile-workers"
    log_dir.mkdir(parents=True, exist_ok=True)
    PROFILES_DIR.mkdir(parents=True, exist_ok=True)
    workers = []
    try:
        for variant in VARIANTS:
            log(f"starting {variant.name}")
            workers.append(Worker(variant, rows, env, log_dir))
        blocks: dict[str, list[dict[str, float]]] = {worker.variant.name: [] for worker in workers}
        for round_number in range(rounds):
            shift = round_number % len(workers)
            for worker in workers[shift:] + workers[:shift]:
                blocks[worker.variant.name].append(worker.block(block))
            log(f"ladder round {round_number + 1}/{rounds}")
        log(f"profiling {PROFILED_REQUESTS} requests of each profiled variant with pyinstrument")
        profiles = {}
        for worker in workers:
            result = worker.finish()
            if result is not None:
                profiles[worker.variant.name] = result
    finally:
        for worker in workers:
            if worker.process.poll() is None:
                worker.process.kill()
    return {
        measure: {name: round(median([block[measure] for block in values]), 1) for name, values in blocks.items()}
        for measure in ("wall_us", "cpu_us")
    } | {"blocks": blocks, "profiles": profiles}


# What the COPY into students maintains besides the heap and the primary key.
SECONDARY_INDEXES = (
    "students_email_lower_key",
    "students_first_name_prefix_idx",
    "students_last_name_prefix_idx",
    "students_status_id_idx",
)
BULK_ABLATION_ROWS = 100_000


def bulk_create_ablation(database_url: str, first_number: int) -> dict:
    """COPY 100,000 more students into the loaded table as migrated and without parts of the schema, each
    in a transaction rolled back afterwards (DDL included), so every variant starts from the same table."""
    import psycopg

    from .database import copy_students

    drop_indexes = [f"DROP INDEX {name}" for name in SECONDARY_INDEXES]
    variants = {
        "as migrated (the column default generates student numbers)": ([], False),
        "student numbers supplied": ([], True),
        f"without the {len(SECONDARY_INDEXES)} secondary indexes": (drop_indexes, False),
        "neither (heap, primary key, student_number key)": (drop_indexes, True),
    }
    rows_per_s = {}
    with psycopg.connect(database_url) as connection:
        for name, (statements, student_numbers) in variants.items():
            with connection.transaction(force_rollback=True):
                for statement in statements:
                    connection.execute(statement)
                seconds = copy_students(connection, first_number, BULK_ABLATION_ROWS, student_numbers)
            rows_per_s[name] = round(BULK_ABLATION_ROWS / seconds)
            log(f"COPY {BULK_ABLATION_ROWS:,}, {name}: {rows_per_s[name]:,} rows/s")
    return rows_per_s


def import_breakdown() -> dict:
    """handlers.api's cold import by top-level package (own time of its modules), and by who imports what."""
    from .cold_import import import_report

    report = import_report("handlers.api")
    by_package: collections.Counter[str] = collections.Counter()
    for module, self_us, _ in report:
        by_package[module.split(".")[0]] += self_us
    cumulative = {module: cumulative_us for module, _, cumulative_us in report}
    watched = (
        "jwt.algorithms",
        "psycopg",
        "aws_lambda_powertools.event_handler",
        "aws_lambda_powertools.logging",
        "aws_lambda_powertools.event_handler.appsync",
        "aws_lambda_powertools.utilities.data_classes",
        "asyncio",
        "aws_xray_sdk.core",
        "wrapt",
        "pydantic",
        "student_records.models",
        "rest_contract.operations",
        "observability.lambda_door",
        "observability.tracing",
        "handlers.api",
    )
    return {
        "total_ms": round(sum(by_package.values()) / 1000, 1),
        "by_package_ms": {name: round(us / 1000, 1) for name, us in by_package.most_common(20)},
        "cumulative_ms": {name: round(cumulative[name] / 1000, 1) for name in watched if name in cumulative},
    }


def ensure_profilers() -> None:
    from .__main__ import ensure_requirements

    ensure_requirements(PROFILE_REQUIREMENTS)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_ROWS", "1000000")))
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=200)
    args = parser.parse_args()

    ensure_profilers()
    from local_stack.dev_auth import auth_environment, issue_token

    from . import profile_report
    from .database import BenchDatabase

    auth_env = auth_environment(SCRATCH_DIR / "auth")
    token = issue_token("admin", subject="bench-profile", ttl_s=6 * 3600, key_dir=SCRATCH_DIR / "auth")
    sink = UdpSink()
    database = BenchDatabase(SCRATCH_DIR / "profile-postgres")
    results: dict = {"rows": args.rows}
    try:
        database.start_fresh()
        database.load_students(args.rows)
        # Every signal written by the serving thread itself: the ladders read that thread's CPU clock, which would
        # not see the Flask door's writer thread (`python -m bench` measures it, whole processes under load).
        env = {
            **auth_env,
            "DATABASE_URL": database.url,
            "BENCH_TOKEN": token,
            "XRAY_SAMPLING": "all",
            "AWS_XRAY_DAEMON_ADDRESS": sink.address,
            "RATE_LIMIT": "1000000 per second",
            "SIGNALS_FLUSH_INTERVAL_MS": "0",
        }
        for name in ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "_X_AMZN_TRACE_ID", "OBSERVABILITY"):
            os.environ.pop(name, None)
        log("components the baseline skips, timed alone")
        components_out = SCRATCH_DIR / "components.json"
        subprocess.run(
            [sys.executable, "-m", "bench.components", "--rows", str(args.rows), "--out", str(components_out)],
            cwd=REPO_ROOT,
            env={**os.environ, **env, "OBSERVABILITY": "off"},
            check=True,
        )
        results["components_us"] = json.loads(components_out.read_text())
        log("in-process ladders")
        results["ladders"] = ladders(args.rows, env, args.rounds, args.block)
        log("bulk create: COPY with and without generated numbers and the secondary indexes")
        results["bulk_create_rows_per_s"] = bulk_create_ablation(database.url, database.loaded_rows + 1)
        log("cold import breakdown")
        results["cold_import"] = import_breakdown()
    finally:
        database.stop(keep_data=False)
        sink.close()
    profile_report.write(results, RESULTS_DIR)
    log(f"{RESULTS_DIR / 'profile.md'} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
