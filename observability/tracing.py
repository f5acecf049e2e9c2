"""X-Ray: a request's trace, with one subsegment per database statement, sent to the daemon in as few datagrams as
fit within its size limit (usually one).

A trace is the Flask door's segment, or in Lambda the `## lambda_handler` subsegment of the function's segment
(Lambda's own, never sent by the function). Its documents are the X-Ray segment format written as plain
dictionaries: the SDK's entity objects, recorder lookups and Powertools Tracer cost 60 to 90 µs of CPU per
request for the same few fields (bench/README.md); these cost under 10. The SDK still decides which Flask
requests are traced (its sampler, centralized rules); in Lambda the decision comes with the invocation.

Nothing is patched: the data layer opens each statement's subsegment itself (database_subsegment), because the
SDK's psycopg patch records no SQL text and loses the trace when a connection is used as a context manager.

A statement's subsegment is named after the database it ran on (`student_records@db-host`), as the segment
document specification names a downstream call: after the resource called (its SQL example: `ebdb@<rds host>`).
X-Ray draws one node per name on the service map, so one database is one node; the query's name is the
`query_name` annotation, which filter expressions search (`annotation.query_name = "students.get"`).

Sizes: a document "can be up to 64 kB" and a subsegment "can be embedded in a full segment document or sent
independently ... to avoid exceeding the maximum segment document size" (the specification). Statements ride in
their request's document while it stays within MAX_DOCUMENT_BYTES; past that, the oldest are sent on their own as
they finish (`type: "subsegment"`, with `trace_id` and `parent_id`), and what does not fit beside the request's
own fields at the end goes on its own too. A statement too large even alone has its SQL text cut short.
"""

import functools
import os
import re
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from .context import current_trace
from .logs import logger
from .sql_errors import cause_of, caused_by_client
from .xray_daemon import MAX_DOCUMENT_BYTES, XRayDaemon

TRACE_HEADER = "X-Amzn-Trace-Id"
DATABASE_TYPE = "PostgreSQL"
QUERY_NAME_ANNOTATION = "query_name"
# Statements ride in their request's document up to this many bytes; the rest of MAX_DOCUMENT_BYTES is left for the
# request's own fields (URL, annotations, a cause), which gunicorn's request line limit (4094 bytes) keeps small.
STATEMENT_BYTES_PER_DOCUMENT = MAX_DOCUMENT_BYTES - 8 * 1024
MAX_STACK_FRAMES = 10  # as the SDK's max_trace_back
MAX_CHAINED_EXCEPTIONS = 5
MAX_NAME_CHARS = 200  # the specification's limit for a segment's name
TRUNCATED_SQL_MARK = " …(truncated)"
_TRUNCATED_SQL_MARK_BYTES = TRUNCATED_SQL_MARK.encode()
# Annotation keys "must be alphanumeric in order to work with filters. Underscore is allowed." (the specification)
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9_]+")
_INVALID_NAME_CHARACTERS = str.maketrans("", "", "?;*()!$~^<>")  # what the SDK strips from entity names
_SUBSEGMENTS_FIELD_BYTES = len(b',"subsegments":[]')
_WORKING_DIRECTORY = str(Path.cwd())


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
    """The request's entity: fields set at its start, annotations and statements added while it runs, sent to
    `daemon` when it ends. An unsampled trace keeps only its id (log lines carry it) and sends nothing."""

    __slots__ = ("_daemon", "_statement_bytes", "_statements", "_token", "document", "sampled", "trace_id")

    def __init__(self, trace_id: str, document: dict[str, Any] | None, daemon: XRayDaemon | None) -> None:
        self.trace_id = trace_id
        self.sampled = document is not None
        self.document = document
        self._daemon = daemon
        self._statements: list[bytes] = []  # serialized, each a complete independent subsegment document
        self._statement_bytes = 0
        self._token = current_trace.set(self)

    def annotate(self, annotations: Mapping[str, object]) -> None:
        if self.document is not None:
            self.document.setdefault("annotations", {}).update(_indexable(annotations))

    def add_statement(self, statement: dict[str, Any]) -> None:
        """A finished statement's subsegment: kept for the request's document, the oldest sent on their own once
        the kept ones pass STATEMENT_BYTES_PER_DOCUMENT (which also bounds what a long request holds)."""
        encoded = _encoded_statement(statement)
        self._statements.append(encoded)
        self._statement_bytes += len(encoded) + 1  # and its comma
        while self._statement_bytes > STATEMENT_BYTES_PER_DOCUMENT:
            oldest = self._statements.pop(0)
            self._statement_bytes -= len(oldest) + 1
            self._send(oldest)

    def record_exception(self, error: BaseException) -> None:
        if self.document is not None:
            self.document["fault"] = True
            self.document["cause"] = exception_cause(error)

    def end(self) -> None:
        """Sends the document with its statements inside, those that do not fit on their own first (a reader that
        assembles a trace when its root arrives, as the local trace viewer does, then has them all); the request's
        code no longer sees this trace."""
        current_trace.reset(self._token)
        document, daemon = self.document, self._daemon
        if document is None or daemon is None:
            return
        document["end_time"] = time.time()
        document["in_progress"] = False
        statements = self._statements
        if not statements:
            daemon.send(document)
            return
        document["subsegments"] = [orjson.Fragment(statement) for statement in statements]
        encoded = orjson.dumps(document, default=str)
        if len(encoded) > MAX_DOCUMENT_BYTES:
            encoded = self._fitted(document, statements)
        daemon.send_encoded(encoded)

    def _send(self, statement: bytes) -> None:
        if self._daemon is not None:
            self._daemon.send_encoded(statement)

    def _fitted(self, document: dict[str, Any], statements: list[bytes]) -> bytes:
        """The document with as many statements as fit beside its own fields; the others sent on their own."""
        del document["subsegments"]
        alone = orjson.dumps(document, default=str)
        room = MAX_DOCUMENT_BYTES - len(alone) - _SUBSEGMENTS_FIELD_BYTES
        embedded: list[orjson.Fragment] = []
        for statement in statements:
            cost = len(statement) + (1 if embedded else 0)
            if cost <= room:
                embedded.append(orjson.Fragment(statement))
                room -= cost
            else:
                self._send(statement)
        if not embedded:
            return alone
        document["subsegments"] = embedded
        return orjson.dumps(document, default=str)


def begin_trace(header: TraceHeader, name: str, sampled: bool, daemon: XRayDaemon | None, **fields: object) -> Trace:
    """A trace of the caller's Root (a new one without), as the caller's Parent's child, sent to `daemon` (None:
    tracing is off); `fields` (http, aws, type, ...) go into its document."""
    trace_id = header.root or new_trace_id()
    if not sampled or daemon is None:
        return Trace(trace_id, None, None)
    document = {"id": new_entity_id(), "name": name, "trace_id": trace_id, "start_time": time.time(), **fields}
    if header.parent:
        document["parent_id"] = header.parent
    return Trace(trace_id, document, daemon)


def annotate(**annotations: str) -> None:
    """Annotates the current request's trace (searchable in X-Ray); nothing outside a sampled request."""
    trace = current_trace.get()
    if trace is not None:
        trace.annotate(annotations)


def _indexable(annotations: Mapping[str, object]) -> Mapping[str, object]:
    """The annotations X-Ray can index: keys of letters, digits and underscores (others are left out, with a
    warning once per key, as the SDK does), values strings, numbers or booleans."""
    if all(_annotation_key_allowed(key) for key in annotations):
        return annotations
    return {key: value for key, value in annotations.items() if _annotation_key_allowed(key)}


@functools.lru_cache(maxsize=256)  # keys are names in code, a handful
def _annotation_key_allowed(key: str) -> bool:
    if _ANNOTATION_KEY.fullmatch(key):
        return True
    logger.warning("annotation key %r left out: X-Ray filters need letters, digits and underscores only", key)
    return False


@contextmanager
def database_subsegment(query_name: str, sql: str, url: str, user: str) -> Iterator[None]:
    """One `remote` subsegment for one statement, named after the database (`dbname@host`), annotated with the
    query's name; SQL with its placeholders, never the bound values. A failure is an `error` when the database
    refused the client's data (sql_errors.caused_by_client, the rule DbQueryErrors follows), else a `fault`."""
    trace = current_trace.get()
    if trace is None or trace.document is None:
        yield
        return
    statement = {
        "id": new_entity_id(),
        "name": database_resource_name(url),
        "start_time": time.time(),
        "type": "subsegment",  # with trace_id and parent_id: the same document embedded or sent on its own
        "trace_id": trace.trace_id,
        "parent_id": trace.document["id"],
        "namespace": "remote",
        "sql": _sql_metadata(sql, url, user),
        "annotations": _query_annotations(query_name),
    }
    try:
        yield
    except Exception as error:
        statement["error" if caused_by_client(error) else "fault"] = True
        statement["cause"] = exception_cause(error)
        raise
    finally:
        statement["end_time"] = time.time()
        statement["in_progress"] = False
        trace.add_statement(statement)


def exception_cause(error: BaseException) -> dict[str, Any]:
    """What a trace may say about an exception and those that caused it: driver errors can quote row values, so
    each one's type, its SQLSTATE and where it was raised, never its message."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < MAX_CHAINED_EXCEPTIONS:
        chain.append(current)
        current = cause_of(current)
    ids = [new_entity_id() for _ in chain]
    exceptions = []
    for position, exception in enumerate(chain):
        own_sqlstate = getattr(exception, "sqlstate", None)
        described: dict[str, Any] = {
            "id": ids[position],
            "type": type(exception).__name__,
            "message": f"SQLSTATE {own_sqlstate}" if own_sqlstate else "see the logs by correlation id",
            "stack": _stack(exception),
        }
        if own_sqlstate:
            described["remote"] = True  # returned by the database, a downstream service
        if position + 1 < len(chain):
            described["cause"] = ids[position + 1]  # "Exception ID of the exception's parent" (the specification)
        exceptions.append(described)
    return {"working_directory": _WORKING_DIRECTORY, "exceptions": exceptions}


def _stack(error: BaseException) -> list[dict[str, Any]]:
    frames = traceback.extract_tb(error.__traceback__, limit=MAX_STACK_FRAMES)
    return [{"path": _relative_path(frame.filename), "line": frame.lineno, "label": frame.name} for frame in frames]


@functools.lru_cache(maxsize=1024)
def _relative_path(path: str) -> str:
    # stackFrame.path is "the relative path to the file": relative to working_directory when under it.
    if path.startswith(_WORKING_DIRECTORY + os.sep):
        return path[len(_WORKING_DIRECTORY) + 1 :]
    return path


@functools.lru_cache(maxsize=64)
def database_resource_name(url: str) -> str:
    """`dbname@host` for the data layer's credential-free URL (`postgresql://host:port/dbname`) or a libpq
    key=value string: the database as the service map shows it, one node per database."""
    if "://" in url:
        location, _, dbname = url.split("://", 1)[1].rpartition("/")
        host = location.rpartition("@")[2]
        host = host.rpartition(":")[0] if host.rpartition(":")[2].replace(",", "").isdigit() else host
    else:
        fields = dict(part.split("=", 1) for part in url.split() if "=" in part)
        host, dbname = fields.get("host", ""), fields.get("dbname", "")
    name = f"{dbname or 'postgres'}@{host or 'localhost'}".translate(_INVALID_NAME_CHARACTERS)
    return name[:MAX_NAME_CHARS]


@functools.lru_cache(maxsize=512)
def _query_annotations(query_name: str) -> dict[str, str]:
    # Shared by every subsegment of the same query; only ever serialized, never changed.
    return {QUERY_NAME_ANNOTATION: query_name}


@functools.lru_cache(maxsize=256)
def _sql_metadata(sql: str, url: str, user: str) -> dict[str, str]:
    # Shared by every subsegment of the same statement; only ever serialized, never changed.
    return {"sanitized_query": sql, "database_type": DATABASE_TYPE, "url": url, "user": user, "driver_version": _DRIVER}


def _encoded_statement(statement: dict[str, Any]) -> bytes:
    """The statement as an independent subsegment document, its SQL text cut short when the whole would not fit in
    one datagram: a statement is never dropped for its size."""
    encoded = orjson.dumps(statement, default=str)
    if len(encoded) <= MAX_DOCUMENT_BYTES:
        return encoded
    sql = statement.get("sql") or {}
    query = str(sql.get("sanitized_query") or "").encode()
    while len(encoded) > MAX_DOCUMENT_BYTES and query:
        # Each byte cut from the text shortens its JSON by at least one byte (escapes only ever lengthen it).
        query = query[: max(0, len(query) - (len(encoded) - MAX_DOCUMENT_BYTES) - len(_TRUNCATED_SQL_MARK_BYTES))]
        text = query.decode(errors="ignore") + TRUNCATED_SQL_MARK
        statement = {**statement, "sql": {**sql, "sanitized_query": text}}
        encoded = orjson.dumps(statement, default=str)
    return encoded  # past the limit only if no SQL text is left to cut: then the socket decides, and a loss is counted


def _driver_version() -> str:
    import psycopg

    return f"psycopg {psycopg.__version__}"


_DRIVER = _driver_version()
