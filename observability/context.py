"""What this thread is serving: the request's observation and its trace, set and reset by a door's instrumentation
(requests.RequestObservation, tracing.Trace) and read by whatever runs inside it: log lines (their correlation id and
trace id), statements (their subsegment), the contract layer (the route). Context variables: each thread of a Flask
worker sees its own request only.

Here, below every other module, so that the logs can read what tracing and the request observation set without
importing them: those modules log, and so import logs."""

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: at run time this module imports nothing of the package
    from .requests import RequestObservation
    from .tracing import Trace

current_request: ContextVar["RequestObservation | None"] = ContextVar("current_request", default=None)
current_trace: ContextVar["Trace | None"] = ContextVar("current_trace", default=None)


def current_trace_id() -> str | None:
    """The trace id of the request being served, for its log lines (sampled or not); None outside a request."""
    trace = current_trace.get()
    return trace.trace_id if trace is not None else None
