"""The Flask doors under wrk: the baseline app, the project's door with OBSERVABILITY=off, and the same door
fully instrumented, each served by gunicorn on loopback, loaded one after another, interleaved."""

import json
import os
import resource
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from local_stack.run import start_flask_door

from .common import BENCH_DIR, LOOPBACK, REPO_ROOT, free_port, log, median, wait_for_port
from .cpu import CpuMeter

GUNICORN_CONFIG = REPO_ROOT / "flask_backend" / "gunicorn.conf.py"
LUA_DIR = BENCH_DIR / "lua"
WARMUP_S = 2
BASELINE, UNINSTRUMENTED, INSTRUMENTED = "baseline", "uninstrumented", "instrumented"
DOORS = (BASELINE, UNINSTRUMENTED, INSTRUMENTED)
DOOR_LABELS = {
    BASELINE: "baseline (bench/baseline_app.py)",
    UNINSTRUMENTED: "project door, OBSERVABILITY=off",
    INSTRUMENTED: "project door, logs + EMF + X-Ray (all sampled)",
}


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    script: str
    path: str  # the URL's path; scripts that make their own requests ignore it
    method: str = "GET"
    expected_status: int = 200


def workloads(rows: int, deep_cursor: str) -> list[Workload]:
    return [
        Workload("get_by_id", "GET /students/{id} (random id)", "get_student.lua", f"/students/{rows // 2}"),
        Workload("list_first", "GET /students?limit=50 (first page)", "static.lua", "/students?limit=50"),
        Workload(
            "list_deep",
            "GET /students?limit=50&cursor=… (deep page)",
            "static.lua",
            f"/students?limit=50&cursor={deep_cursor}",
        ),
        Workload("count", "GET /students/count", "static.lua", "/students/count"),
        Workload("create", "POST /students (unique email)", "post_student.lua", "/students", "POST", 201),
    ]


@dataclass
class Door:
    name: str
    process: subprocess.Popen
    port: int
    output_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def json_lines_written(self) -> int:
        with self.output_path.open(errors="replace") as output:
            return sum(1 for line in output if line.startswith("{"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # gunicorn's master stops its workers gracefully
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def server_environment(database_url: str, auth_env: dict[str, str], workers: int, threads: int) -> dict[str, str]:
    """What all three servers share: the same gunicorn shape and pool size; no rate limit in the way."""
    return {
        **auth_env,
        "DATABASE_URL": database_url,
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_LOG_LEVEL": "warning",
        "DB_POOL_MIN_SIZE": str(threads),
        "DB_POOL_MAX_SIZE": str(threads),
        "RATE_LIMIT": "1000000 per second",
    }


def start_doors(common_env: dict[str, str], xray_daemon_address: str, log_dir: Path) -> dict[str, Door]:
    log_dir.mkdir(parents=True, exist_ok=True)
    # No Lambda variables may leak in: the X-Ray SDK and Powertools would believe they run in Lambda.
    for name in ("LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "_X_AMZN_TRACE_ID", "OBSERVABILITY"):
        os.environ.pop(name, None)
    doors: dict[str, Door] = {}
    try:
        for name, extra in (
            (BASELINE, {}),
            (UNINSTRUMENTED, {"OBSERVABILITY": "off"}),
            (
                INSTRUMENTED,
                {"XRAY_SAMPLING": "all", "AWS_XRAY_DAEMON_ADDRESS": xray_daemon_address, "LOG_LEVEL": "INFO"},
            ),
        ):
            port = free_port()
            output_path = log_dir / f"{name}.out"
            # Servers' stdout (logs, EMF) goes to a file: what is measured is formatting it, not a terminal.
            output = output_path.open("w")
            env = {**common_env, **extra}
            if name == BASELINE:
                process = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), "bench.baseline_app:app"],
                    cwd=REPO_ROOT,
                    env={**os.environ, **env, "HOST": LOOPBACK, "PORT": str(port)},
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            else:
                process = start_flask_door(port, env, stdout=output)
            output.close()  # the child holds its own descriptor
            doors[name] = Door(name, process, port, output_path)
        for door in doors.values():
            wait_for_port(door.port, door.process, f"the {door.name} server")
    except BaseException:
        for door in doors.values():
            door.stop()
        raise
    return doors


def check_answers(doors: dict[str, Door], plan: list[Workload], token: str) -> None:
    """One request per door and workload before any load: a 401 or 500 served fast must not pass for speed."""
    for door in doors.values():
        for workload in plan:
            body = None
            if workload.method == "POST":
                body = json.dumps(
                    {
                        "first_name": "Check",
                        "last_name": "Answer",
                        "email": f"check.{door.name}.{time.time_ns()}@bench.example.org",
                    }
                ).encode()
            request = urllib.request.Request(
                door.base_url + workload.path,
                data=body,
                method=workload.method,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    status, payload = response.status, response.read()
            except urllib.error.HTTPError as error:
                status, payload = error.code, error.read()
            if status != workload.expected_status:
                raise RuntimeError(
                    f"{door.name} answered {workload.method} {workload.path} with {status}: {payload[:500]!r}"
                )


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed when missing (the bench runs as root on the dev machines and CI)."""
    found = shutil.which("wrk")
    if found:
        return found
    log("wrk is missing: apt-get install -y wrk")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, stdout=subprocess.DEVNULL, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL, env=env)
    return shutil.which("wrk") or "wrk"


@dataclass(frozen=True)
class LoadShape:
    connections: int
    threads: int


def run_wrk(
    door: Door,
    workload: Workload,
    shape: LoadShape,
    duration_s: int,
    script_dir: Path,
    env: dict[str, str],
    postgres_pid: int,
) -> dict:
    """One wrk run, and the CPU that the door's processes, PostgreSQL and wrk itself spent on it."""
    script = script_dir / workload.script
    if not script.exists():
        script.write_text((LUA_DIR / workload.script).read_text() + "\n" + (LUA_DIR / "report.lua").read_text())
    command = [
        "wrk",
        f"-t{shape.threads}",
        f"-c{shape.connections}",
        f"-d{duration_s}s",
        "--timeout",
        "5s",
        "-s",
        str(script),
        door.base_url + workload.path,
    ]
    meter = CpuMeter({"app": [door.process.pid], "postgres": [postgres_pid]})
    meter.start()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **env}, timeout=duration_s + 60, check=False
    )
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = meter.seconds()
    cpu_seconds["wrk"] = (
        children_after.ru_utime + children_after.ru_stime - children_before.ru_utime - children_before.ru_stime
    )
    result_line = next((line for line in completed.stdout.splitlines() if line.startswith("BENCH_RESULT ")), None)
    if completed.returncode != 0 or result_line is None:
        raise RuntimeError(f"wrk failed on {door.name} {workload.name}: {completed.stdout}\n{completed.stderr}")
    raw = json.loads(result_line.removeprefix("BENCH_RESULT "))
    errors = sum(raw[key] for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    requests = max(raw["requests"], 1)
    return {
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "errors": errors,
        **{f"{name}_cpu_us_per_request": round(seconds / requests * 1e6, 1) for name, seconds in cpu_seconds.items()},
    }


def load_all(
    doors: dict[str, Door],
    plan: list[Workload],
    shape: LoadShape,
    duration_s: int,
    repeats: int,
    token: str,
    max_id: int,
    script_dir: Path,
    postgres_pid: int,
) -> list[dict]:
    """For each workload: a warm-up of every door, then `repeats` rounds in which each door runs once. The
    order rotates between rounds (a,b,c / b,c,a / c,a,b) so no door always follows the same one."""
    script_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for workload in plan:
        for name in DOORS:
            env = {"BENCH_TOKEN": token, "BENCH_MAX_ID": str(max_id), "BENCH_RUN_ID": f"warm{name}{time.time_ns()}"}
            run_wrk(doors[name], workload, shape, WARMUP_S, script_dir, env, postgres_pid)
        for repeat in range(repeats):
            order = DOORS[repeat % len(DOORS) :] + DOORS[: repeat % len(DOORS)]
            for name in order:
                env = {
                    "BENCH_TOKEN": token,
                    "BENCH_MAX_ID": str(max_id),
                    "BENCH_RUN_ID": f"{name}{repeat}{time.time_ns()}",
                }
                result = run_wrk(doors[name], workload, shape, duration_s, script_dir, env, postgres_pid)
                if result["errors"] > 0.001 * result["requests"]:
                    raise RuntimeError(f"{name} {workload.name}: {result['errors']} errors of {result['requests']}")
                runs.append({"workload": workload.name, "door": name, "repeat": repeat, **result})
                log(
                    f"{workload.name:<10} {name:<15} round {repeat + 1}/{repeats}: {result['rps']:>8,.0f} req/s"
                    f"  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms  CPU µs/request: app "
                    f"{result['app_cpu_us_per_request']:,.0f}, postgres {result['postgres_cpu_us_per_request']:,.0f}"
                )
    return runs


def summarize(runs: list[dict], plan: list[Workload]) -> dict:
    """Medians per door, and each ratio taken round by round (the runs of one round are adjacent in time)."""
    summary = {}
    for workload in plan:
        by_door = {
            name: sorted(
                (run for run in runs if run["workload"] == workload.name and run["door"] == name),
                key=lambda run: run["repeat"],
            )
            for name in DOORS
        }
        entry: dict = {"label": workload.label}
        for name, door_runs in by_door.items():
            entry[name] = {
                "rps": median([run["rps"] for run in door_runs]),
                "p50_ms": round(median([run["p50_ms"] for run in door_runs]), 3),
                "p99_ms": round(median([run["p99_ms"] for run in door_runs]), 3),
                **{
                    key: median([run[key] for run in door_runs])
                    for key in ("app_cpu_us_per_request", "postgres_cpu_us_per_request", "wrk_cpu_us_per_request")
                },
            }
        for ratio_name, numerator, denominator in (
            ("instrumented_over_uninstrumented", INSTRUMENTED, UNINSTRUMENTED),
            ("uninstrumented_over_baseline", UNINSTRUMENTED, BASELINE),
            ("instrumented_over_baseline", INSTRUMENTED, BASELINE),
        ):
            per_round = [
                top["rps"] / bottom["rps"]
                for top, bottom in zip(by_door[numerator], by_door[denominator], strict=False)
            ]
            entry[ratio_name] = {
                "median": round(median(per_round), 3),
                "min": round(min(per_round), 3),
                "max": round(max(per_round), 3),
            }
        summary[workload.name] = entry
    return summary
