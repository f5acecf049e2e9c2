"""While new connections to the database fail, requests are refused at once (served only from a connection that is
ready), one probe per process reconnects, and service resumes within a probe interval of the database accepting
connections again."""

import json
import socket
import subprocess
import sys
import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from observability import install, installed
from rest_contract.problems import problem_for_exception
from student_records.data.database import Database
from student_records.data.health import PING
from student_records.data.reachability import Reachability
from student_records.errors import DatabaseUnavailable
from student_records.readiness import ReadinessService
from student_records.settings import DatabaseSettings

PROBE_INTERVAL_MS = 100
AT_ONCE_S = 0.05  # a refusal does no I/O: well under a millisecond on an idle machine


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, timeout_s: float, what: str) -> float:
    """Polls `condition` until it holds; returns how long that took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout_s, f"{what} within {timeout_s} s"
        time.sleep(0.005)
    return time.monotonic() - started


@pytest.fixture
def metrics():
    """The EMF documents written while the test runs (the suite's observability comes back afterwards)."""
    documents: list[dict] = []
    observability = install(installed().settings, metrics_sink=lambda line: documents.append(json.loads(line)))

    def written() -> list[dict]:
        observability.flush()
        return documents

    return written


@pytest.fixture
def unreachable():
    """A Database whose server is not there: nothing listens on its port."""
    database = Database(
        DatabaseSettings(
            url=f"host=127.0.0.1 port={_closed_port()} dbname=x user=postgres", probe_interval_ms=PROBE_INTERVAL_MS
        )
    )
    yield database
    database.close()


def test_requests_are_refused_at_once_with_retry_advice_while_the_database_is_unreachable(unreachable, metrics):
    # Given a pool whose first connection attempt failed
    outage_known = _wait_for(lambda: unreachable.outage() is not None, 2, "the outage opens")
    # When requests need a connection
    timings = []
    for _ in range(20):
        started = time.perf_counter()
        with pytest.raises(DatabaseUnavailable, match="the database is unreachable") as refused:
            unreachable.fetch_one(PING)
        timings.append(time.perf_counter() - started)
    # Then each is refused at once (no pool timeout), advised to retry after the probe's interval
    assert outage_known < 2 and max(timings) < AT_ONCE_S, timings
    assert refused.value.retry_after_ms == PROBE_INTERVAL_MS
    # And each counts as a fast refusal and as a connection error
    documents = metrics()
    assert sum(document.get("DbFastRefusals", 0) for document in documents) == 20
    assert sum(document.get("DbConnectionErrors", 0) for document in documents) == 20


def test_the_contract_gives_the_retry_advice_in_seconds_and_milliseconds():
    # Given a fast refusal's error and a database error without advice
    # When the contract answers them
    fast = problem_for_exception(DatabaseUnavailable("the database is unreachable", retry_after_ms=250))
    default = problem_for_exception(DatabaseUnavailable("the database did not answer in time"))
    # Then Retry-After is in whole seconds, rounded up, and retry_after_ms is exact
    assert fast.status == 503 and fast.headers["Retry-After"] == "1"
    assert json.loads(fast.body)["retry_after_ms"] == 250
    assert default.headers["Retry-After"] == "5" and json.loads(default.body)["retry_after_ms"] == 5000


def test_readiness_names_the_database_check_and_since_when_it_fails(unreachable):
    # Given a database known to be unreachable
    _wait_for(lambda: unreachable.outage() is not None, 2, "the outage opens")
    # When readiness is checked
    started = time.perf_counter()
    report = ReadinessService(unreachable).check(auth=_auth_ok())
    # Then it fails at once, on the database check, since the first failed attempt
    assert time.perf_counter() - started < AT_ONCE_S
    database = report.checks["database"]
    assert report.status == "unavailable" and database.status == "failed"
    assert database.since == unreachable.outage().since
    assert "unreachable" in database.detail and f"{PROBE_INTERVAL_MS} ms" in database.detail


def _auth_ok():
    from student_records.readiness import CheckResult

    return CheckResult(status="ok", detail="keys held")


@pytest.fixture
def limited_role(database_conninfo):
    """A role of its own that may hold one connection at a time: its second connection is refused by the server, as
    every new one is when the server has no slot left (too many clients); the test may lift the limit."""
    name = f"fail_fast_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(database_conninfo, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} CONNECTION LIMIT 1").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )

        def set_limit(limit: int) -> None:
            admin.execute(sql.SQL("ALTER ROLE {} CONNECTION LIMIT {}").format(sql.Identifier(name), sql.Literal(limit)))

        url = make_conninfo(**{**conninfo_to_dict(database_conninfo), "user": name, "password": password})
        yield url, set_limit
        admin.execute(
            sql.SQL("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = {}").format(
                sql.Literal(name)
            )
        )
        admin.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(sql.Identifier(name), sql.Identifier(name)))


def test_a_ready_connection_still_serves_while_new_ones_are_refused_and_service_resumes_within_a_probe(limited_role):
    url, set_limit = limited_role
    database = Database(
        DatabaseSettings(
            url=url, pool_min_size=1, pool_max_size=2, pool_timeout_s=0.5, probe_interval_ms=PROBE_INTERVAL_MS
        )
    )
    try:
        _wait_for(lambda: _ready(database), 5, "the pool's first connection")
        # Given the pool's one connection busy, so that a second request makes the pool try another, which the
        # server refuses
        holding, release = threading.Event(), threading.Event()

        def hold() -> None:
            with database.session():
                holding.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        holding.wait(5)
        with pytest.raises(DatabaseUnavailable):  # after the pool timeout, unless the outage was known already
            database.fetch_one(PING)
        assert database.outage() is not None
        release.set()
        holder.join()
        # When a request comes while new connections are still refused
        started = time.perf_counter()
        served = database.fetch_one(PING)
        # Then the ready connection serves it at once
        assert served == {"ok": 1} and time.perf_counter() - started < AT_ONCE_S
        # When the server accepts new connections again
        set_limit(-1)
        accepting = time.monotonic()
        # Then the probe closes the outage within about an interval, and requests wait for the pool as usual
        _wait_for(lambda: database.outage() is None, 1, "the probe sees the database back")
        assert time.monotonic() - accepting < 1
        assert database.fetch_one(PING) == {"ok": 1}
    finally:
        database.close()


def _ready(database: Database) -> bool:
    try:
        return database.fetch_one(PING) == {"ok": 1}
    except DatabaseUnavailable:
        return False


def test_an_old_verdict_is_not_refused_on_when_the_probe_has_not_run():
    # Given an outage whose probe does not run (a Lambda environment frozen between invocations: its threads too)
    frozen = threading.Event()
    reachability = Reachability(
        probe=frozen.wait, on_back=lambda: None, interval_s=0.01, trusted_for_s=0.2, name="test-frozen"
    )
    try:
        reachability.attempt_failed(psycopg.OperationalError("refused"))
        assert reachability.refusing() is not None
        # When longer than an attempt and two intervals passes without a verdict
        aged = _wait_for(lambda: reachability.refusing() is None, 2, "the verdict ages")
        # Then requests are not refused on it (they wait for the pool), until an attempt fails again
        assert aged >= 0.15
        reachability.attempt_failed(psycopg.OperationalError("refused"))
        assert reachability.refusing() is not None
    finally:
        frozen.set()
        reachability.close()


def test_closing_the_database_stops_its_probe():
    # Given a probe running for an unreachable database
    before = set(_probes())
    database = Database(
        DatabaseSettings(
            url=f"host=127.0.0.1 port={_closed_port()} dbname=x user=postgres", probe_interval_ms=PROBE_INTERVAL_MS
        )
    )
    _wait_for(lambda: database.outage() is not None, 2, "the outage opens")
    ours = set(_probes()) - before
    assert len(ours) == 1
    # When the database is closed
    database.close()
    # Then its probe thread ends
    _wait_for(lambda: not any(thread.is_alive() for thread in ours), 5, "the probe ends")


# Run before the Database's own exit handler is registered, so after it (atexit runs last registered first).
UNCLOSED_DATABASE = """
import atexit, sys, threading
from student_records.data.database import POOL_NAME, Database
from student_records.settings import DatabaseSettings

def pool_threads_left():
    left = [thread.name for thread in threading.enumerate() if thread.name.startswith(POOL_NAME) and thread.is_alive()]
    print(left)

atexit.register(pool_threads_left)
database = Database(DatabaseSettings(url=sys.argv[1]))
with database.session() as session:
    pass
"""


def test_a_database_left_open_stops_its_pool_before_the_interpreter_shuts_down(database_conninfo):
    # Given a process that used a Database and exits without closing it
    result = subprocess.run(
        [sys.executable, "-c", UNCLOSED_DATABASE, database_conninfo],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # Then the pool's threads had stopped before shutdown began (from Python 3.13 the pool cannot stop them during
    # shutdown, and waits 5 s for each of them)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert "couldn't stop thread" not in result.stderr + result.stdout


def _probes() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.endswith("-probe")]
