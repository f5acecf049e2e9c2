"""X-Ray: a request's trace, with one subsegment per database statement, sent to the daemon in one datagram.

A trace is the Flask door's segment, or in Lambda the `## lambda_handler` subsegment of the function's segment
(Lambda's own, never sent by the function). Its documents are the X-Ray segment format written as plain
dictionaries: the SDK's entity objects, recorder lookups and Powertools Tracer cost 60 to 90 µs of CPU per
request for the same few fields (bench/README.md); these cost under 10. The SDK still decides which Flask
requests are traced (its sampler, centralized rules); in Lambda the decision comes with the invocation.

Nothing is patched: the data layer opens each statement's subsegment itself (database_subsegment), because the
SDK's psycopg patch records no SQL text and loses the trace when a connection is used as a context manager.
"""

import functools
import os
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .settings import ENABLED
from .xray_daemon import daemon

# AWS_XRAY_SDK_ENABLED=false, the SDK's own switch, turns tracing off here too (bench: "no traces").
TRACING_ENABLED = ENABLED and os.environ.get("AWS_XRAY_SDK_ENABLED", "true").lower() != "false"
TRACE_HEADER = "X-Amzn-Trace-Id"
DATABASE_TYPE = "PostgreSQL"
# Statements ride in their request's datagram (one send per request, not one per statement); past this many
# (the SDK's default streaming threshold) the finished ones are sent on their own, keeping a datagram small.
STATEMENTS_PER_DATAGRAM = 30
MAX_STACK_FRAMES = 10  # as the SDK's max_trace_back
_WORKING_DIRECTORY = os.getcwd()

_current: ContextVar["Trace | None"] = ContextVar("current_trace", default=None)


@dataclass(frozen=True, slots=True)
class TraceHeader:
    """`X-Amzn-Trace-Id` (or Lambda's `_X_AMZN_TRACE_ID`): Root, Parent, and Sampled ("1", "0", "?" or None)."""

    root: str | None = None
    parent: str | None = None
    sampled: str | None = None

    @classmethod
    def parse(cls, value: str | None) -> "TraceHeader":
        if not value:
            return _NO_TRACE_HEADER
        fields = {}
        for part in (value or "").split(";"):
            name, equals, field_value = part.strip().partition("=")
            if equals and field_value:
                fields[name] = field_value
        return cls(fields.get("Root"), fields.get("Parent"), fields.get("Sampled"))


_NO_TRACE_HEADER = TraceHeader()


def new_trace_id() -> str:
    return f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"


def new_entity_id() -> str:
    return os.urandom(8).hex()


class Trace:
    """The request's entity: fields set at its start, annotations and statements added while it runs, sent when
    it ends. An unsampled trace keeps only its id (log lines carry it) and sends nothing."""

    __slots__ = ("trace_id", "sampled", "document", "_statements", "_token")

    def __init__(self, trace_id: str, document: dict | None) -> None:
        self.trace_id = trace_id
        self.sampled = document is not None
        self.document = document
        self._statements: list[dict] = []
        self._token = _current.set(self)

    def annotate(self, annotations: dict[str, object]) -> None:
        if self.document is not None:
            self.document.setdefault("annotations", {}).update(annotations)

    def add_statement(self, statement: dict) -> None:
        self._statements.append(statement)
        if len(self._statements) >= STATEMENTS_PER_DATAGRAM:
            for finished in self._statements:
                daemon.send({**finished, "type": "subsegment"})
            self._statements.clear()

    def record_exception(self, error: BaseException) -> None:
        if self.document is not None:
            self.document["fault"] = True
            self.document["cause"] = exception_cause(error)

    def end(self) -> None:
        """Sends the document, its statements inside; the request's code no longer sees this trace."""
        _current.reset(self._token)
        document = self.document
        if document is None:
            return
        document["end_time"] = time.time()
        document["in_progress"] = False
        if self._statements:
            document["subsegments"] = self._statements
        daemon.send(document)


def begin_trace(header: TraceHeader, name: str, sampled: bool, **fields: object) -> Trace:
    """A trace of the caller's Root (a new one without), as the caller's Parent's child; `fields` (http, aws,
    type, ...) go into its document."""
    trace_id = header.root or new_trace_id()
    if not (sampled and TRACING_ENABLED):
        return Trace(trace_id, None)
    document = {"id": new_entity_id(), "name": name, "trace_id": trace_id, "start_time": time.time(), **fields}
    if header.parent:
        document["parent_id"] = header.parent
    return Trace(trace_id, document)


def current_trace() -> Trace | None:
    return _current.get()


def trace_id() -> str | None:
    """The current trace id, for log lines; None outside a traced request."""
    trace = _current.get()
    return trace.trace_id if trace is not None else None


def annotate(**annotations: str) -> None:
    """Annotates the current request's trace (searchable in X-Ray); nothing outside a sampled request."""
    trace = _current.get()
    if trace is not None:
        trace.annotate(annotations)


@contextmanager
def database_subsegment(query_name: str, sql: str, url: str, user: str) -> Iterator[None]:
    """One `remote` subsegment for one statement: SQL with its placeholders, never the bound values."""
    trace = _current.get()
    if trace is None or trace.document is None:
        yield
        return
    statement = {
        "id": new_entity_id(),
        "name": query_name,
        "start_time": time.time(),
        "trace_id": trace.trace_id,
        "parent_id": trace.document["id"],
        "namespace": "remote",
        "sql": _sql_metadata(sql, url, user),
        "annotations": {"query_name": query_name},
    }
    try:
        yield
    except Exception as error:
        statement["fault"] = True
        statement["cause"] = exception_cause(error)
        raise
    finally:
        statement["end_time"] = time.time()
        statement["in_progress"] = False
        trace.add_statement(statement)


def exception_cause(error: BaseException) -> dict:
    """What a trace may say about an exception: driver errors can quote row values, so its type, its SQLSTATE
    and where it was raised, never its message."""
    sqlstate = getattr(error, "sqlstate", None)
    frames = traceback.extract_tb(error.__traceback__, limit=MAX_STACK_FRAMES)
    return {
        "working_directory": _WORKING_DIRECTORY,
        "exceptions": [
            {
                "id": new_entity_id(),
                "type": type(error).__name__,
                "message": f"SQLSTATE {sqlstate}" if sqlstate else "see the logs by correlation id",
                "stack": [{"path": frame.filename, "line": frame.lineno, "label": frame.name} for frame in frames],
            }
        ],
    }


@functools.lru_cache(maxsize=256)
def _sql_metadata(sql: str, url: str, user: str) -> dict[str, str]:
    # Shared by every subsegment of the same statement; only ever serialized, never changed.
    return {"sanitized_query": sql, "database_type": DATABASE_TYPE, "url": url, "user": user, "driver_version": _DRIVER}


def _driver_version() -> str:
    import psycopg

    return f"psycopg {psycopg.__version__}"


_DRIVER = _driver_version()
