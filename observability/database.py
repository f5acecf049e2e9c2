"""What the data layer reports about each statement and each connection checkout."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from .catalog import DB_CONNECTION_ERRORS, DB_FAST_REFUSALS, DB_POOL_WAIT, DB_QUERY_ERRORS, DB_QUERY_LATENCY, Dimension
from .runtime import installed
from .sql_errors import caused_by_client
from .tracing import database_subsegment


@contextmanager
def observe_statement(query_name: str, sql: str, url: str, user: str) -> Iterator[None]:
    """Latency and error metrics plus one trace subsegment around one statement."""
    observability = installed()
    if not observability.settings.enabled:
        yield
        return
    recorder = observability.recorder
    dimensions = {Dimension.QUERY_NAME: query_name}
    started = time.perf_counter()
    failed = False
    try:
        with database_subsegment(query_name, sql, url, user):
            yield
    except BaseException as error:
        failed = not caused_by_client(error)
        raise
    finally:
        recorder.put_many(
            {DB_QUERY_LATENCY: round((time.perf_counter() - started) * 1000, 3), DB_QUERY_ERRORS: 1 if failed else 0},
            dimensions,
        )


def record_pool_wait(milliseconds: float) -> None:
    installed().recorder.put(DB_POOL_WAIT, round(milliseconds, 3))


def record_connection_error() -> None:
    installed().recorder.put(DB_CONNECTION_ERRORS, 1)


def record_fast_refusal() -> None:
    """A request refused at once while new connections to the database fail: counted as such, and as a connection
    error (the catalog's DbFastRefusals)."""
    installed().recorder.put_many({DB_FAST_REFUSALS: 1, DB_CONNECTION_ERRORS: 1})
