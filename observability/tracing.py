"""X-Ray: recorder settings, per-request annotations, and one subsegment per database statement.

The SDK's own psycopg patch records no SQL text and loses the trace when a connection is used as a
context manager, so nothing is patched: the data layer opens the subsegments itself, here.
"""

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.models.facade_segment import FacadeSegment

from .settings import SERVICE_NAME

DATABASE_TYPE = "PostgreSQL"


def configure_recorder() -> None:
    """For a long-running process (the Flask door). In Lambda, Powertools Tracer configures the recorder.

    XRAY_SAMPLING=all traces every request (tests, `make run`); otherwise the centralized sampling
    rules set in AWS apply. Segments go to AWS_XRAY_DAEMON_ADDRESS (the SDK reads it; default
    127.0.0.1:2000).
    """
    xray_recorder.configure(
        service=SERVICE_NAME,
        sampling=os.environ.get("XRAY_SAMPLING", "centralized") != "all",
        # DB calls outside a request (migrations, seeding, scripts) simply go untraced.
        context_missing="IGNORE_ERROR",
    )


def trace_id() -> str | None:
    """The current trace id, for log lines; None outside a traced request."""
    if not global_sdk_config.sdk_enabled():
        return None
    entity = xray_recorder.get_trace_entity()
    return getattr(entity, "trace_id", None) if entity is not None else None


def annotate(**annotations: str) -> None:
    """Annotates the current segment or subsegment (Lambda's own segment cannot be annotated)."""
    if not global_sdk_config.sdk_enabled():
        return
    entity = xray_recorder.get_trace_entity()
    if entity is None or isinstance(entity, FacadeSegment):
        return
    for key, value in annotations.items():
        entity.put_annotation(key, value)


@contextmanager
def database_subsegment(query_name: str, sql: str, url: str, user: str) -> Iterator[None]:
    """One `remote` subsegment for one statement: SQL with its placeholders, never the bound values."""
    if not global_sdk_config.sdk_enabled() or xray_recorder.get_trace_entity() is None:
        yield
        return
    subsegment = xray_recorder.begin_subsegment(query_name, namespace="remote")
    if subsegment is None:
        yield
        return
    subsegment.set_sql(
        {"sanitized_query": sql, "database_type": DATABASE_TYPE, "url": url, "user": user, "driver_version": _DRIVER}
    )
    subsegment.put_annotation("query_name", query_name)
    try:
        yield
    except Exception as error:
        subsegment.add_exception(_without_message(error), traceback.extract_tb(error.__traceback__))
        raise
    finally:
        xray_recorder.end_subsegment()


def _without_message(error: Exception) -> Exception:
    # Driver errors can quote row values; the trace keeps the type and SQLSTATE only.
    sqlstate = getattr(error, "sqlstate", None)
    detail = f"SQLSTATE {sqlstate}" if sqlstate else "see the logs by correlation id"
    return type(type(error).__name__, (Exception,), {})(detail)


def _driver_version() -> str:
    import psycopg

    return f"psycopg {psycopg.__version__}"


_DRIVER = _driver_version()
