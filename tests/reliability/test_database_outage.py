"""With the database down, both doors answer fast and clearly; when it returns, they recover by themselves."""

import json
import time

OUTAGE_ANSWER_LIMIT_S = 2.0
RECOVERY_DEADLINE_S = 30.0


def _problem(reply):
    status, headers, body = reply
    return status, {k.lower(): v for k, v in headers.items()}, json.loads(body) if body else None


def test_outage_gives_fast_503s_and_recovery_needs_no_restart(isolated_database, isolated_doors):
    server, _ = isolated_database
    doors = isolated_doors
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
