"""With the database down, both doors answer fast and clearly; when it returns, they recover by themselves."""

import json
import shutil
import time
import uuid

import pytest

from local_stack.embedded_postgres import EmbeddedPostgres
from student_records.data import migrations
from tests.observability.stack import REPO_ROOT, DoorProcess, UdpCollector

OUTAGE_ANSWER_LIMIT_S = 2.0
RECOVERY_DEADLINE_S = 30.0


@pytest.fixture(scope="module")
def own_database():
    """A server of its own, so that stopping it disturbs no other test."""
    scratch = REPO_ROOT / ".data" / f"test-outage-{uuid.uuid4().hex[:8]}"
    scratch.mkdir(parents=True)
    server = EmbeddedPostgres(scratch / "data", log=lambda _: None)
    server.start()
    server.ensure_database("student_records")
    migrations.migrate(server.dsn("student_records"))
    try:
        yield server, scratch
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="module")
def doors(own_database, auth_keys):
    server, scratch = own_database
    collector = UdpCollector()
    started = {door: DoorProcess(door, server.dsn("student_records"), collector.port, scratch)
               for door in ("lambda", "flask")}
    try:
        yield started
    finally:
        for process in started.values():
            process.stop()
        collector.close()


def _problem(reply):
    status, headers, body = reply
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(body) if body else None


def test_outage_gives_fast_503s_and_recovery_needs_no_restart(own_database, doors):
    server, _ = own_database
    for door in doors.values():
        assert door.send("GET", "/students/count")[0] == 200
    # When the database stops
    server.stop()
    try:
        for name, door in doors.items():
            mark = len(door.output_lines())
            for path in ("/students/count", "/students/1", "/students?limit=5", "/health/ready"):
                started = time.monotonic()
                status, headers, problem = _problem(door.send("GET", path))
                elapsed = time.monotonic() - started
                # Then every database route is a 503 problem, within 2 s
                assert status == 503, (name, path, problem)
                assert elapsed < OUTAGE_ANSWER_LIMIT_S, (name, path, elapsed)
                assert headers["content-type"] == "application/problem+json"
                if path != "/health/ready":
                    assert headers["retry-after"] == "5"
            # And liveness is unaffected, and the connection errors are counted and logged at ERROR
            assert door.send("GET", "/health")[0] == 200
            lines = door.output_lines()[mark:]
            assert sum(line.get("DbConnectionErrors", 0) for line in lines) >= 3, name
            assert any(line.get("level") == "ERROR" and line.get("message") == "request failed" for line in lines)
    finally:
        server.start()
    # When it is back, each door serves again without a restart
    for name, door in doors.items():
        deadline = time.monotonic() + RECOVERY_DEADLINE_S
        while door.send("GET", "/students/count")[0] != 200:
            assert time.monotonic() < deadline, f"{name} did not recover"
            time.sleep(0.1)
        assert door.send("GET", "/health/ready")[0] == 200
