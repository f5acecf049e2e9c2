"""What the data layer reports about each statement and each connection checkout."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from .catalog import DB_CONNECTION_ERRORS, DB_POOL_WAIT, DB_QUERY_ERRORS, DB_QUERY_LATENCY, Dimension
from . import settings
from .metrics import recorder
from .sql_errors import caused_by_client
from .tracing import database_subsegment


@contextmanager
def observe_statement(query_name: str, sql: str, url: str, user: str) -> Iterator[None]:
    """Latency and error metrics plus one trace subsegment around one statement."""
    if not settings.current.enabled:
        yield
        return
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
    recorder.put(DB_POOL_WAIT, round(milliseconds, 3))


def record_connection_error() -> None:
    recorder.put(DB_CONNECTION_ERRORS, 1)
