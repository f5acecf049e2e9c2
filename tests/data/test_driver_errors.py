"""Driver failures become domain errors, and only a lost connection counts as a connection error."""

import time

import psycopg
import pytest

import student_records.data.database as database_module
from student_records.data.database import Database, Query
from student_records.errors import DatabaseUnavailable
from student_records.settings import DatabaseSettings

LOCK_NOW = Query("test.lock_now", "SELECT id FROM students WHERE id = %(id)s FOR UPDATE NOWAIT")
DIE = Query("test.die", "SELECT pg_terminate_backend(pg_backend_pid())")


@pytest.fixture
def database(database_conninfo):
    database = Database(DatabaseSettings(url=database_conninfo))
    yield database
    database.close()


@pytest.fixture
def connection_errors(monkeypatch):
    counted = []
    monkeypatch.setattr(database_module, "record_connection_error", lambda: counted.append(1))
    return counted


def test_a_lock_not_available_is_a_retryable_503_but_not_a_connection_error(db, database, connection_errors):
    # Given a student whose row another transaction holds locked
    student_id = db.execute(
        "INSERT INTO students (first_name, last_name, email) VALUES ('A', 'B', 'locked@example.org') RETURNING id"
    ).fetchone()[0]
    with psycopg.connect(db.info.dsn) as holder:
        holder.execute("SELECT id FROM students WHERE id = %s FOR UPDATE", (student_id,))
        # When a statement cannot take the lock
        with pytest.raises(DatabaseUnavailable, match="could not complete the request now") as raised:
            database.fetch_one(LOCK_NOW, {"id": student_id})
    # Then the database is reported unavailable for now, and no connection error is counted
    assert isinstance(raised.value.__cause__, psycopg.errors.LockNotAvailable)
    assert connection_errors == []
    # And the same pool serves the next statement
    assert database.fetch_one(LOCK_NOW, {"id": student_id}) == {"id": student_id}


def test_a_lost_connection_is_counted(db, database, connection_errors):
    with pytest.raises(DatabaseUnavailable, match="lost the connection"):
        database.fetch_one(DIE)
    assert connection_errors == [1]


def _wait_until_gone(db, backend_pid: int) -> None:
    # pg_terminate_backend only signals the backend: it ends (and closes its socket) a moment later.
    deadline = time.monotonic() + 10
    while db.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (backend_pid,)).fetchone():
        assert time.monotonic() < deadline, "the backend did not end"
        time.sleep(0.01)


def test_a_connection_the_server_ended_is_replaced_before_a_statement_gets_it(db, database_conninfo, monkeypatch):
    round_trips = []
    check = database_module.ConnectionPool.check_connection
    monkeypatch.setattr(
        database_module.ConnectionPool,
        "check_connection",
        staticmethod(lambda connection: (round_trips.append(1), check(connection))),
    )
    one_connection = Database(DatabaseSettings(url=database_conninfo, pool_max_size=1))
    try:
        backend = one_connection.fetch_one(Query("test.pid", "SELECT pg_backend_pid() AS pid"))["pid"]
        # Given a healthy idle connection: handed out again without a round trip to check it
        assert one_connection.fetch_one(Query("test.pid", "SELECT pg_backend_pid() AS pid"))["pid"] == backend
        assert round_trips == []
        # When the server ends it while it sits in the pool
        db.execute("SELECT pg_terminate_backend(%s)", (backend,))
        _wait_until_gone(db, backend)
        # Then the next statement runs on a new connection, the ended one checked and dropped
        replacement = one_connection.fetch_one(Query("test.pid", "SELECT pg_backend_pid() AS pid"))["pid"]
        assert replacement != backend and round_trips == [1]
    finally:
        one_connection.close()
