"""Connections and statements: one pool per Database (one per process), one choke point for every statement."""

import atexit
import select
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, Self

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.sql import Composable
from psycopg_pool import ConnectionPool, PoolTimeout

from observability import observe_statement, record_connection_error, record_fast_refusal, record_pool_wait

from ..credentials import PasswordSource
from ..errors import ConstraintViolation, DatabaseUnavailable
from ..settings import DatabaseSettings
from .reachability import Outage, Reachability

# psycopg_pool refuses a timeout of 0 even with a connection ready: this is "only if one is ready now".
_NO_WAIT_S = 0.001


@dataclass(frozen=True)
class Query:
    """A statement and its short, stable name (what metrics and traces call it, never the SQL). Statements built
    from parts are composed with psycopg.sql (names as Identifier, values as placeholders) and rendered once, here:
    the text executed is the text traces show."""

    name: str
    sql: str | Composable
    # Writes read-audit rows (auditing.read_audited): runs only on its own, so that relaxing the commit of its audit
    # rows can never relax the commit of a change made in the same transaction.
    audits_read: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.sql, Composable):
            object.__setattr__(self, "sql", self.sql.as_string())

    @property
    def text(self) -> str:
        return str(self.sql)


class Executor(Protocol):
    """A Database (each statement its own transaction) or a Session (statements of one transaction)."""

    def fetch_one(self, query: Query, params: dict[str, Any] | None = None) -> dict[str, Any] | None: ...
    def fetch_all(self, query: Query, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class _StatementContext:
    """What every statement of a Database is observed and run with."""

    trace_url: str  # where the database is, without credentials: what a trace may show
    user: str
    # synchronous_commit for the transactions that only write read-audit rows: "off" (READ_AUDIT_COMMIT=async, the
    # default) or None (sync: the server's setting, as for changes). Why: data/auditing.py.
    read_audit_synchronous_commit: str | None


class Session:
    """Statements on one connection; inside Database.transaction() they commit or roll back together."""

    def __init__(self, connection: psycopg.Connection, context: _StatementContext) -> None:
        self._connection = connection
        self._context = context

    def fetch_one(self, query: Query, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        with self._run(query, params) as cursor:
            return cursor.fetchone()

    def fetch_all(self, query: Query, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._run(query, params) as cursor:
            return cursor.fetchall()

    def execute(self, query: Query, params: dict[str, Any] | None = None) -> int:
        with self._run(query, params) as cursor:
            return cursor.rowcount

    def copy_in(self, query: Query, chunks: Iterable[str | bytes]) -> int:
        """COPY ... FROM STDIN fed with `chunks`; returns the rows copied. Observed like any statement, for as
        long as the stream lasts. An exception from `chunks` aborts the COPY and propagates unchanged."""
        with (
            observe_statement(query.name, query.text, self._context.trace_url, self._context.user),
            self._connection.cursor() as cursor,
        ):
            with _driver_errors_translated(), cursor.copy(query.text) as copy:
                for chunk in chunks:
                    copy.write(chunk)
            return cursor.rowcount

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """Inside a transaction: what fails in here is undone, and the transaction goes on."""
        with self._connection.transaction():
            yield

    @contextmanager
    def _run(self, query: Query, params: dict[str, Any] | None) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        # The one place a statement reaches the driver: each one is measured and traced here.
        if query.audits_read:
            if not self._connection.autocommit:
                raise RuntimeError(f"{query.name} writes read-audit rows: run it on its own, not in a transaction")
            params = {**(params or {}), "read_audit_commit": self._context.read_audit_synchronous_commit}
        with (
            observe_statement(query.name, query.text, self._context.trace_url, self._context.user),
            self._connection.cursor(row_factory=dict_row) as cursor,
        ):
            with _driver_errors_translated():
                cursor.execute(query.text, params)
            yield cursor


@contextmanager
def _driver_errors_translated() -> Iterator[None]:
    """Driver failures as domain errors: the client's bad data (422), or a database out of reach (503)."""
    try:
        yield
    except psycopg.DataError as error:
        # Values the database cannot hold that validation let through: the client's data, not a bug here.
        raise ConstraintViolation(error.sqlstate or "data exception") from error
    except psycopg.OperationalError as error:
        if isinstance(error, psycopg.errors.QueryCanceled):
            raise DatabaseUnavailable("the database did not answer in time") from error
        if _connection_lost(error):
            record_connection_error()
            raise DatabaseUnavailable("lost the connection to the database") from error
        # A deadlock, a serialization failure, a lock not available, resources exhausted: the connection is
        # fine and a retry usually succeeds; not a connection error (its alarm would page for nothing).
        raise DatabaseUnavailable("the database could not complete the request now") from error


def _connection_lost(error: psycopg.OperationalError) -> bool:
    # No SQLSTATE: the client lost the server. Class 08: connection exception. 57P01-57P03: the server is
    # shutting down, crashed, or not accepting connections yet.
    return error.sqlstate is None or error.sqlstate.startswith("08") or error.sqlstate in ("57P01", "57P02", "57P03")


def _check_unless_idle_and_quiet(connection: psycopg.Connection) -> None:
    """The pool's check of a connection it is about to hand out, without a round trip when nothing is wrong.

    An idle connection has nothing to read: a server that ended it (a restart, a crash, pg_terminate_backend)
    leaves its socket readable, with its last message and the end of the stream. Only then is the round trip of
    ConnectionPool.check_connection made, which fails and has the pool replace the connection; a healthy one costs
    a poll() instead of a round trip (~50 µs here, a network round trip to RDS). A server that vanished without
    closing its sockets is detected by neither: the statement then fails fast with 503.
    """
    if connection.closed:
        raise psycopg.OperationalError("the connection is closed")
    readiness = select.poll()
    readiness.register(connection.fileno(), select.POLLIN)
    if readiness.poll(0):
        ConnectionPool.check_connection(connection)


def _connection_class(source: PasswordSource, reachability: Reachability) -> type[psycopg.Connection]:
    """Connections that, when the password is refused, renew it once and try again (rotated secret, expired IAM
    token) instead of failing until the process restarts; and whose every failed attempt is reported to
    `reachability` (the pool's and the probe's: no other code opens one)."""

    class PoolConnection(psycopg.Connection):
        @classmethod
        def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            try:
                return cls._connect_renewing_password(conninfo, **kwargs)
            except psycopg.OperationalError as error:
                reachability.attempt_failed(error)
                raise

        @classmethod
        def _connect_renewing_password(cls, conninfo: str, **kwargs: Any) -> Self:
            try:
                return super().connect(conninfo, **kwargs)
            except psycopg.OperationalError as error:
                # A refusal at connect carries no SQLSTATE; that the password was sent and the connection
                # still failed is the sign that the server turned it down (unreachable servers never ask).
                if not getattr(error.pgconn, "used_password", False):
                    raise
                source.refresh()
                return super().connect(conninfo, **{**kwargs, "password": source.password()})

    return PoolConnection


def trace_url(conninfo: str) -> str:
    """Where the database is, without credentials: what a trace may show."""
    parts = conninfo_to_dict(conninfo)
    return f"postgresql://{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


POOL_NAME = "student-records"


class Database:
    def __init__(self, settings: DatabaseSettings, password_source: PasswordSource | None = None) -> None:
        """ConfigurationError when the settings name no database, or its secret cannot be used. `password_source`:
        where passwords come from instead of the settings' (a rotation the caller controls)."""
        self.settings = settings
        base_conninfo, configured_source = settings.connection()
        self._conninfo = base_conninfo  # the pool's, which the probe opens a connection with
        self._password_source = password_source or configured_source
        # Parsed once: every statement's trace subsegment names them (parsing costs ~20 µs each time).
        self._context = _StatementContext(
            trace_url=trace_url(base_conninfo),
            user=str(conninfo_to_dict(base_conninfo).get("user", "")),
            read_audit_synchronous_commit="off" if settings.read_audit_commit == "async" else None,
        )
        probe_interval_s = settings.probe_interval_ms / 1000
        self._reachability = Reachability(
            self._probe,
            self._refill_pool,
            interval_s=probe_interval_s,
            # A verdict older than a probe's attempt (the connect timeout) and two intervals means the probe has
            # not been running: a thawed Lambda environment does not refuse on it.
            trusted_for_s=settings.connect_timeout_s + 2 * probe_interval_s,
            name=POOL_NAME,
        )
        self._pool = ConnectionPool(
            base_conninfo,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            timeout=settings.pool_timeout_s,
            kwargs=self._connection_kwargs,  # read per connection: the password can change
            connection_class=_connection_class(self._password_source, self._reachability),
            # Connections the server ended (a restart, a crash, a terminated backend) are replaced before use,
            # not handed to a request.
            check=_check_unless_idle_and_quiet,
            # A failed attempt to fill or replace a connection is given up at once (after one immediate retry)
            # instead of retried with psycopg_pool's backoff (1, 2, 4, 8 s... for 5 minutes, not configurable):
            # the backoff is why service came back seconds after the database did. The probe reconnects instead.
            reconnect_timeout=0,
            open=False,
            name=POOL_NAME,
        )
        # Not waiting: a process (or a Lambda init) must start even while the database is down.
        self._pool.open(wait=False)
        # Closed before the interpreter shuts down: from Python 3.13 the pool's own close at shutdown cannot stop its
        # threads and waits 5 s for each (psycopg maintainers: close it explicitly, psycopg/psycopg#954).
        atexit.register(self.close)

    @property
    def trace_url(self) -> str:
        return self._context.trace_url

    def _connection_kwargs(self) -> dict[str, Any]:
        # A statement timeout is always set: a runaway query must not hold a connection forever.
        kwargs: dict[str, Any] = {"options": f"-c statement_timeout={self.settings.statement_timeout_ms}"}
        password = self._password_source.password()
        if password:
            kwargs["password"] = password
        return kwargs

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Statements in autocommit: each one is its own transaction."""
        with self._connection() as connection:
            connection.autocommit = True
            yield Session(connection, self._context)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self._connection() as connection:
            connection.autocommit = False
            with connection.transaction():
                yield Session(connection, self._context)

    def fetch_one(self, query: Query, params: dict[str, Any] | None = None) -> dict[str, Any] | None:
        with self.session() as session:
            return session.fetch_one(query, params)

    def fetch_all(self, query: Query, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.session() as session:
            return session.fetch_all(query, params)

    def outage(self) -> Outage | None:
        """Since when new connections have been failing, while requests are refused at once for it; else None."""
        return self._reachability.refusing()

    @property
    def probe_interval_ms(self) -> int:
        return self.settings.probe_interval_ms

    def close(self) -> None:
        atexit.unregister(self.close)
        self._reachability.close()
        self._pool.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        requested = time.perf_counter()
        # While new connections fail, a request takes a pooled connection that is ready now (the server may only
        # refuse new sessions: too many clients), and is refused at once otherwise, instead of waiting the pool
        # timeout for a connection nobody can open. Without asking the pool when none is idle: its attempt to
        # grow for a waiting request would be one more connection attempt per refusal.
        outage = self._reachability.refusing()
        if outage is not None and not self._pool.get_stats()["pool_available"]:
            raise self._refused(outage)
        try:
            with self._pool.connection(timeout=_NO_WAIT_S if outage is not None else None) as connection:
                record_pool_wait((time.perf_counter() - requested) * 1000)
                yield connection
        except PoolTimeout as error:
            if outage is not None:
                raise self._refused(outage) from error
            record_connection_error()
            raise DatabaseUnavailable("no database connection became available in time") from error

    def _refused(self, outage: Outage) -> DatabaseUnavailable:
        record_fast_refusal()
        return DatabaseUnavailable(
            f"the database is unreachable (since {outage.since:%H:%M:%S}Z); retry after {self.probe_interval_ms} ms",
            retry_after_ms=self.probe_interval_ms,
        )

    def _probe(self) -> None:
        """One connection opened as the pool opens them (its failure reported as theirs are), then closed."""
        self._pool.connection_class.connect(self._conninfo, **self._connection_kwargs()).close()

    def _refill_pool(self) -> None:
        # Drops the idle connections the server ended while it was away (checked now, not on a request's time)
        # and grows the pool back to min_size: the attempts given up during the outage left it short.
        self._pool.check()
