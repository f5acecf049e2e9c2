"""`make run` end to end: both doors serve on loopback, every README curl example works on both,
and Ctrl-C stops everything, the embedded database included."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_DEADLINE_S = 90


def _free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except OSError:
        return None


def _readme_curl_examples() -> list[str]:
    routes = REPO_ROOT.joinpath("README.md").read_text().split("## Routes", 1)[1].split("### Errors", 1)[0]
    return [line for line in routes.splitlines() if line.startswith("curl ")]


@pytest.fixture(scope="module")
def running_stack():
    scratch = REPO_ROOT / ".data" / f"test-run-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    ports = {"PORT": _free_port(), "GATEWAY_PORT": _free_port()}
    # As on a fresh machine: no database and no token issuer configured (the test run's own are not inherited).
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_HOST") and not k.startswith("AUTH_")}
    env |= {"EMBEDDED_PG_DIR": str(scratch / "postgres"), "SEED_STUDENTS": "20", "AUTH_KEY_DIR": str(scratch / "auth"),
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{_free_port(socket.SOCK_DGRAM)}"}
    env |= {name: str(port) for name, port in ports.items()}
    log_path = scratch / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "local_stack.run"], cwd=REPO_ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        # Readiness wait: poll both doors until they answer, or fail with the log.
        deadline = time.monotonic() + STARTUP_DEADLINE_S
        while not all(_status(url + "/health/ready") == 200 for url in urls.values()):
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        yield process, urls, log_path, env
    finally:
        if process.poll() is None:
            # SIGTERM first: run.py then stops the doors it started (each in a session of its own, out of reach
            # of a kill of this process) and the database; SIGKILL only if it does not exit.
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            subprocess.run([sys.executable, "-m", "local_stack.embedded_postgres", "stop",
                            "--data-dir", str(scratch / "postgres")], cwd=REPO_ROOT, env=env, check=False)
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("door", ["PORT", "GATEWAY_PORT"])
def test_every_readme_example_works(running_stack, door):
    _, urls, _, env = running_stack
    examples = _readme_curl_examples()
    token = subprocess.run(["make", "-s", "token", "ROLE=registrar"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert len(examples) >= 10
    for example in examples:
        # Our -w comes last, so it wins over an example's own.
        result = subprocess.run(["bash", "-c", example + " -w '\\n@@%{http_code}'"],
                                env={**env, "API": urls[door], "TOKEN": token}, cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, (example, result.stderr)
        status = int(result.stdout.rsplit("@@", 1)[1])
        assert 200 <= status < 500, (example, status, result.stdout)


def test_seeded_demo_students_are_served_by_both_doors(running_stack):
    _, urls, _, env = running_stack
    token = subprocess.run([sys.executable, "-m", "local_stack.dev_auth", "token", "--role", "teacher"],
                           cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()
    bodies = [
        urllib.request.urlopen(urllib.request.Request(url + "/students?limit=3",
                                                      headers={"Authorization": f"Bearer {token}"})).read()
        for url in urls.values()
    ]
    assert bodies[0] == bodies[1]
    assert b'"next_cursor":' in bodies[0]


def test_logs_metrics_and_a_trace_tree_per_request_are_shown(running_stack):
    _, urls, log_path, env = running_stack
    token = subprocess.run([sys.executable, "-m", "local_stack.dev_auth", "token", "--role", "admin"],
                           cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()
    for url in urls.values():
        urllib.request.urlopen(urllib.request.Request(url + "/students/2",
                                                      headers={"Authorization": f"Bearer {token}"})).read()
    deadline = time.monotonic() + 10
    while log_path.read_text().count("GET /students/{student_id} -> 200") < 2:
        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.05)
    output = log_path.read_text()
    assert '"message":"request"' in output
    assert '"_aws":' in output  # EMF from the Lambda door, flushed per invocation
    tree = output[output.index("GET /students/{student_id} -> 200"):]
    assert "students.get" in tree and "SELECT" in tree


def test_ctrl_c_stops_both_doors_and_the_database(running_stack):
    process, urls, log_path, _ = running_stack
    database_port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", log_path.read_text())[1])
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0, log_path.read_text()
    for port in [database_port] + [int(url.rsplit(":", 1)[1]) for url in urls.values()]:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    assert "PostgreSQL stopped" in log_path.read_text()
