"""`make run` end to end: both doors serve on loopback, every README curl example works on both, the
end-to-end suite (deployed/e2e.py) passes against both, and Ctrl-C stops everything, the embedded database
included."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from deployed.scenarios import SCENARIOS

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
    # As on a fresh machine: no database, token issuer or sampling configured (the test run's own are not inherited).
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "DB_HOST", "XRAY_SAMPLING") and not k.startswith("AUTH_")
    }
    env |= {
        "EMBEDDED_PG_DIR": str(scratch / "postgres"),
        "SEED_STUDENTS": "20",
        "AUTH_KEY_DIR": str(scratch / "auth"),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{_free_port(socket.SOCK_DGRAM)}",
        "TRACES_FILE": str(scratch / "traces.jsonl"),
        "RDS_MONITOR_PERIOD_S": "0.5",
    }
    env |= {name: str(port) for name, port in ports.items()}
    log_path = scratch / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_stack.run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
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
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "local_stack.embedded_postgres",
                    "stop",
                    "--data-dir",
                    str(scratch / "postgres"),
                ],
                cwd=REPO_ROOT,
                env=env,
                check=False,
            )
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize("door", ["PORT", "GATEWAY_PORT"])
def test_every_readme_example_works(running_stack, door):
    _, urls, _, env = running_stack
    examples = _readme_curl_examples()
    token = subprocess.run(
        ["make", "-s", "token", "ROLE=registrar"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert len(examples) >= 10
    for example in examples:
        # Our -w comes last, so it wins over an example's own.
        result = subprocess.run(
            ["bash", "-c", example + " -w '\\n@@%{http_code}'"],
            env={**env, "API": urls[door], "TOKEN": token},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, (example, result.stderr)
        status = int(result.stdout.rsplit("@@", 1)[1])
        assert 200 <= status < 500, (example, status, result.stdout)


def _token(env: dict[str, str], role: str) -> str:
    """A token as a user of `make run` gets one (`make token ROLE=...`), for the stack's development key."""
    return subprocess.run(
        [sys.executable, "-m", "local_stack.dev_auth", "token", "--role", role],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_seeded_demo_students_are_served_by_both_doors(running_stack):
    _, urls, _, env = running_stack
    token = _token(env, "teacher")
    bodies = [
        urllib.request.urlopen(
            urllib.request.Request(url + "/students?limit=3", headers={"Authorization": f"Bearer {token}"})
        ).read()
        for url in urls.values()
    ]
    assert bodies[0] == bodies[1]
    assert b'"next_cursor":' in bodies[0]


def test_logs_metrics_and_the_trace_trees_the_sampling_rules_choose_are_shown(running_stack):
    _, urls, log_path, env = running_stack
    token = _token(env, "admin")
    already = len(log_path.read_text())
    # When each door is sent a write, which the sampling rules always trace
    for door, url in urls.items():
        body = json.dumps({"first_name": "Trace", "last_name": door, "email": f"trace.{door.lower()}@example.org"})
        urllib.request.urlopen(
            urllib.request.Request(
                url + "/students",
                data=body.encode(),
                method="POST",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        ).read()
    deadline = time.monotonic() + 10
    while log_path.read_text()[already:].count("POST /students -> 201") < 2:
        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.05)
    output = log_path.read_text()
    assert '"message":"request"' in output
    assert '"_aws":' in output  # EMF from the Lambda door, flushed per invocation
    tree = output[already:][output[already:].index("POST /students -> 201") :]
    assert "students.insert" in tree and "INSERT" in tree
    # and the fixture's readiness polls, which the rules never trace, drew no tree on either door
    assert re.search(r"^trace \S+  GET /health", output, re.MULTILINE) is None
    assert re.search(r"^trace \S+  GET /students", output, re.MULTILINE)  # reads are traced, a share of them


def test_the_database_publishes_what_rds_would(running_stack):
    _, _, log_path, _ = running_stack
    # When make run has run for a few of its RDS monitor's periods (0.5 s here)
    deadline = time.monotonic() + 30
    while not (
        documents := [
            json.loads(line)
            for line in log_path.read_text().splitlines()
            if '"AWS/RDS"' in line and '"CPUUtilization"' in line
        ]
    ):
        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.1)
    # Then the embedded server's AWS/RDS metrics are on stdout, as the template's DB instance
    document = documents[-1]
    assert document["DBInstanceIdentifier"] == "student-records"
    assert 0 <= document["CPUUtilization"] <= 100 and document["DatabaseConnections"] >= 2  # both doors' pools
    assert 0 < document["FreeStorageSpace"] < 20 * 1024**3 and 0 < document["FreeableMemory"] < 1024**3


def test_the_end_to_end_suite_passes_on_both_doors(running_stack):
    _, urls, _, env = running_stack
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "deployed.e2e", "--api-url", urls["GATEWAY_PORT"], "--flask-url", urls["PORT"]],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    summary = re.fullmatch(r"e2e: (\d+) passed, 0 failed", lines[-1])
    assert summary, lines[-1]
    assert int(summary[1]) == len(lines) - 1 >= 2 * len(SCENARIOS)  # every scenario on both doors, and more
    assert time.monotonic() - started < 60


def test_traces_kept_in_traces_file_draw_one_database_and_mark_a_conflict_as_the_clients_error(running_stack):
    _, urls, _, env = running_stack
    token = _token(env, "registrar")
    # Given a student created, then created again (409), through each door; each reply names its correlation id
    # (on the Lambda door API Gateway's request id, on the Flask door the id the caller sent)
    request_ids = {}
    for door, url in urls.items():
        body = json.dumps(
            {
                "first_name": "Trace",
                "last_name": "Probe",
                "email": f"trace-{door.lower()}-{uuid.uuid4().hex[:8]}@example.org",
            }
        ).encode()
        for attempt in ("created", "conflict"):
            request = urllib.request.Request(
                url + "/students",
                data=body,
                method="POST",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "X-Request-Id": f"traces-{door.lower()}-{attempt}-{uuid.uuid4().hex[:8]}",
                },
            )
            try:
                reply = urllib.request.urlopen(request)
            except urllib.error.HTTPError as error:
                reply = error
            assert reply.status == (201 if attempt == "created" else 409), (door, attempt, reply.status)
            request_ids[(door, attempt)] = reply.headers["X-Request-Id"]
    # When the documents the trace viewer received are read back from TRACES_FILE
    traces_file = Path(env["TRACES_FILE"])
    deadline = time.monotonic() + 10
    while True:
        documents = [json.loads(line) for line in traces_file.read_text().splitlines()] if traces_file.exists() else []
        conflicts = [
            doc
            for doc in documents
            if _annotation(doc, "correlation_id") in {request_ids[(door, "conflict")] for door in urls}
        ]
        if len(conflicts) == 2:
            break
        assert time.monotonic() < deadline, f"{len(documents)} documents, {len(conflicts)} conflicts traced"
        time.sleep(0.05)
    # Then every statement of every trace names one database node
    statements = [sub for doc in documents for sub in _subsegments(doc) if sub.get("namespace") == "remote"]
    assert statements and len({sub["name"] for sub in statements}) == 1, {sub["name"] for sub in statements}
    assert all(sub["annotations"]["query_name"] for sub in statements)
    # And the refused insert of each 409 is the client's error, not a fault
    for doc in conflicts:
        failed = [sub for sub in _subsegments(doc) if sub.get("namespace") == "remote" and "cause" in sub]
        assert failed and all(sub.get("error") and not sub.get("fault") for sub in failed), failed
    # And the Flask door's segments are drawn as its EC2 instance
    flask = [doc for doc in documents if _annotation(doc, "front_door") == "flask" and doc.get("type") != "subsegment"]
    assert flask and all(doc["origin"] == "AWS::EC2::Instance" for doc in flask)


def _subsegments(document: dict) -> list[dict]:
    found = []
    for sub in document.get("subsegments", []):
        found += [sub, *_subsegments(sub)]
    return found


def _annotation(document: dict, key: str) -> object:
    return next(
        (
            entity["annotations"][key]
            for entity in [document, *_subsegments(document)]
            if key in entity.get("annotations", {})
        ),
        None,
    )


def test_ctrl_c_stops_both_doors_and_the_database(running_stack):
    process, urls, log_path, _ = running_stack
    database_port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", log_path.read_text())[1])
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0, log_path.read_text()
    for port in [database_port] + [int(url.rsplit(":", 1)[1]) for url in urls.values()]:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    assert "PostgreSQL stopped" in log_path.read_text()
