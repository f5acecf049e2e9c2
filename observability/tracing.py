"""X-Ray: recorder settings, per-request annotations, and one subsegment per database statement.

The SDK's own psycopg patch records no SQL text and loses the trace when a connection is used as a
context manager, so nothing is patched: the data layer opens the subsegments itself, here.
"""

import functools
import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.lambda_launcher import LambdaContext
from aws_xray_sdk.core.models.facade_segment import FacadeSegment
from aws_xray_sdk.core.models.subsegment import Subsegment

from .settings import SERVICE_NAME
from .xray_emitter import DaemonEmitter
from .xray_lambda_context import ParsedOnceLambdaContext

DATABASE_TYPE = "PostgreSQL"
# Statements ride in their request's datagram (one send per request, not one per statement); past this many
# (the SDK's default streaming threshold) the finished ones are sent on their own, keeping a datagram small.
STATEMENTS_PER_DATAGRAM = 30


def configure_recorder() -> None:
    """For a long-running process (the Flask door). In Lambda, see configure_lambda_recorder.

    XRAY_SAMPLING=all traces every request (tests, `make run`); otherwise the centralized sampling
    rules set in AWS apply. Segments go to AWS_XRAY_DAEMON_ADDRESS (the SDK reads it; default
    127.0.0.1:2000).
    """
    xray_recorder.configure(
        service=SERVICE_NAME,
        sampling=os.environ.get("XRAY_SAMPLING", "centralized") != "all",
        # DB calls outside a request (migrations, seeding, scripts) simply go untraced.
        context_missing="IGNORE_ERROR",
        emitter=DaemonEmitter(),
    )


def configure_lambda_recorder() -> None:
    """After Powertools Tracer has set the recorder up for Lambda (it streams every finished subsegment)."""
    if isinstance(xray_recorder.context, LambdaContext):  # outside Lambda the Tracer disables the SDK
        xray_recorder.configure(emitter=DaemonEmitter(), context=ParsedOnceLambdaContext())


def trace_id() -> str | None:
    """The current trace id, for log lines; None outside a traced request."""
    if not global_sdk_config.sdk_enabled():
        return None
    return getattr(xray_recorder.get_trace_entity(), "trace_id", None)


def annotate(**annotations: str) -> None:
    """Annotates the current segment or subsegment (Lambda's own segment cannot be annotated)."""
    if not global_sdk_config.sdk_enabled():
        return
    entity = xray_recorder.get_trace_entity()
    if entity is None or not entity.sampled or isinstance(entity, FacadeSegment):
        return
    # The keys are the callers' keyword names (ASCII identifiers, as X-Ray wants them): set directly,
    # without put_annotation's per-character check of every key.
    entity.annotations.update(annotations)


@contextmanager
def database_subsegment(query_name: str, sql: str, url: str, user: str) -> Iterator[None]:
    """One `remote` subsegment for one statement: SQL with its placeholders, never the bound values.

    A statement is a leaf (nothing inside it opens a subsegment), so its subsegment is attached to the
    current entity without becoming the current one: no context push and pop, no lookups to end it. (The
    recorder's begin_subsegment would also log a warning for every statement run outside a request.)
    """
    parent = xray_recorder.get_trace_entity() if global_sdk_config.sdk_enabled() else None
    if parent is None or not parent.sampled:
        yield
        return
    segment = parent.parent_segment if isinstance(parent, Subsegment) else parent
    subsegment = Subsegment(query_name, "remote", segment)
    subsegment.sql = _sql_metadata(sql, url, user)
    subsegment.annotations["query_name"] = query_name
    parent.add_subsegment(subsegment)
    try:
        yield
    except Exception as error:
        subsegment.add_exception(exception_without_message(error), traceback.extract_tb(error.__traceback__))
        raise
    finally:
        subsegment.close()
        # Lambda's own segment is never sent: a statement right under it has no datagram to ride in.
        alone = parent is segment and isinstance(segment, FacadeSegment)
        if alone or segment.get_total_subsegments_size() > STATEMENTS_PER_DATAGRAM:
            xray_recorder.stream_subsegments()


def exception_without_message(error: BaseException) -> Exception:
    """What a trace may say about an exception: driver errors can quote row values, so the type and
    SQLSTATE only."""
    sqlstate = getattr(error, "sqlstate", None)
    detail = f"SQLSTATE {sqlstate}" if sqlstate else "see the logs by correlation id"
    return type(type(error).__name__, (Exception,), {})(detail)


@functools.lru_cache(maxsize=256)
def _sql_metadata(sql: str, url: str, user: str) -> dict[str, str]:
    # Shared by every subsegment of the same statement; only ever serialized, never changed.
    return {"sanitized_query": sql, "database_type": DATABASE_TYPE, "url": url, "user": user, "driver_version": _DRIVER}


def _driver_version() -> str:
    import psycopg

    return f"psycopg {psycopg.__version__}"


_DRIVER = _driver_version()
