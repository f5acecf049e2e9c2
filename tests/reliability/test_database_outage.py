"""With the database down, both doors answer every request within 2 s, refuse at once once the outage is known, and
serve again within 1 s of the database accepting connections, without a restart."""

import json
import math
import threading
import time
from dataclasses import dataclass

import psycopg

ANSWER_LIMIT_S = 2.0  # every response during the outage, measured one by one
RECOVERY_LIMIT_S = 1.0  # from the database accepting connections to each door's first success
OUTAGE_S = 4.0
# The pool timeout (1.5 s) and a margin: a request sent later than this into the outage finds it known.
KNOWN_AFTER_S = 2.0
DATABASE_ROUTES = ("/students/count", "/students/1", "/students?limit=5")


@dataclass
class Reply:
    path: str
    sent: float  # time.monotonic()
    elapsed: float
    status: int
    headers: dict[str, str]
    body: dict | None


def _call(door, path: str) -> Reply:
    sent = time.monotonic()
    status, headers, body = door.send("GET", path)
    return Reply(
        path,
        sent,
        time.monotonic() - sent,
        status,
        {k.lower(): v for k, v in headers.items()},
        json.loads(body) if body else None,
    )


def _load(door, until: threading.Event, replies: list[Reply]) -> None:
    """One client after another on the door's database routes, with liveness and readiness probes between."""
    paths = (*DATABASE_ROUTES, "/health", "/health/ready")
    sent = 0
    while not until.is_set() and sent < 2000:  # bounded: a few hundred at most in the outage's seconds
        replies.append(_call(door, paths[sent % len(paths)]))
        sent += 1


def test_an_outage_is_refused_at_once_and_service_resumes_within_a_second(isolated_database, isolated_doors):
    server, _ = isolated_database
    doors = isolated_doors
    for door in doors.values():
        assert _call(door, "/students/count").status == 200
    marks = {name: len(door.output_lines()) for name, door in doors.items()}

    # When PostgreSQL stops as a crash would, under load on both doors
    server.crash()
    stopped_at = time.monotonic()
    until = threading.Event()
    replies: dict[str, list[Reply]] = {name: [] for name in doors}
    clients = [threading.Thread(target=_load, args=(door, until, replies[name])) for name, door in doors.items()]
    for client in clients:
        client.start()
    until.wait(OUTAGE_S)  # the outage's length
    until.set()
    for client in clients:
        client.join(timeout=30)

    for name, door in doors.items():
        outage = replies[name]
        # Then every response came within 2 s, and none was a 5xx other than 503
        slowest = max(outage, key=lambda reply: reply.elapsed)
        assert slowest.elapsed < ANSWER_LIMIT_S, (name, slowest)
        assert all(reply.status < 500 or reply.status == 503 for reply in outage), name
        # And liveness answered 200 throughout
        assert all(reply.status == 200 for reply in outage if reply.path == "/health"), name
        # And every database route was a 503 problem with the retry advice, in seconds and in milliseconds
        for reply in (reply for reply in outage if reply.path in DATABASE_ROUTES):
            assert reply.status == 503 and reply.headers["content-type"] == "application/problem+json", reply
            advice_ms = reply.body["retry_after_ms"]
            assert reply.headers["retry-after"] == str(math.ceil(advice_ms / 1000)), reply
        # And once the outage was known, each one was refused without waiting for the pool
        known = [reply for reply in outage if reply.path in DATABASE_ROUTES and reply.sent - stopped_at > KNOWN_AFTER_S]
        assert known and all(reply.body["retry_after_ms"] < 1000 for reply in known), name
        lines = door.output_lines()[marks[name] :]
        assert sum(line.get("DbFastRefusals", 0) for line in lines) >= len(known), name
        # And readiness said which check failed and since when
        ready = [reply for reply in outage if reply.path == "/health/ready" and reply.sent - stopped_at > KNOWN_AFTER_S]
        assert ready and all(reply.status == 503 for reply in ready), name
        database_check = ready[-1].body["checks"]["database"]
        assert database_check["status"] == "failed" and "unreachable" in database_check["detail"], database_check
        assert database_check["since"], database_check

    # When PostgreSQL starts again
    accepting: dict[str, float] = {}
    first_success: dict[str, float] = {}
    done = threading.Event()

    def watch_database() -> None:
        while "at" not in accepting and not done.is_set():
            try:
                psycopg.connect(server.dsn("student_records"), connect_timeout=2).close()
                accepting["at"] = time.monotonic()
            except psycopg.OperationalError:
                time.sleep(0.005)

    def watch_door(name: str, door) -> None:
        while name not in first_success and not done.is_set():
            if _call(door, "/students/count").status == 200:
                first_success[name] = time.monotonic()
            else:
                time.sleep(0.01)  # a client's retry pace; the outage is known, so each refusal is immediate

    watchers = [
        threading.Thread(target=watch_database),
        *(threading.Thread(target=watch_door, args=(name, door)) for name, door in doors.items()),
    ]
    for watcher in watchers:
        watcher.start()
    try:
        server.start()
        deadline = time.monotonic() + 30
        while len(first_success) < len(doors) or "at" not in accepting:
            assert time.monotonic() < deadline, (accepting, first_success)
            time.sleep(0.01)
    finally:
        done.set()
        for watcher in watchers:
            watcher.join(timeout=30)
    # Then each door served again within 1 s of the database accepting connections, without a restart
    for name, door in doors.items():
        assert first_success[name] - accepting["at"] < RECOVERY_LIMIT_S, (name, first_success[name] - accepting["at"])
        assert door.process.poll() is None
        assert _call(door, "/health/ready").status == 200
