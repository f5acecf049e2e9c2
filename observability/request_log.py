"""The request log line: one per request, the line the service writes most, so it skips `logging`.

It has the fields a Powertools line would have (the logger's persistent keys: service, name, and in Lambda
the invocation's context; correlation id, the request's fields, the trace id), in the same order and
timestamp format, but no LogRecord, no caller lookup (`location` names this function) and no dict-merging
formatter: the keys are read as they stand, rendered by orjson, and written to stdout in one write.
"""

import logging
import time

import orjson

from .context import current_trace_id
from .logs import formatter, logger
from .runtime import installed

_service_logger = logging.getLogger(logger.name)


class _Instant:
    """What the formatter's formatTime reads from a LogRecord."""

    __slots__ = ("created", "msecs")

    def __init__(self, created: float) -> None:
        self.created = created
        self.msecs = int((created - int(created)) * 1000)  # as logging.LogRecord computes it


def write_request_line(correlation_id: str, fields: dict[str, object]) -> None:
    """Writes the "request" line at INFO (nothing when LOG_LEVEL is above INFO)."""
    if not _service_logger.isEnabledFor(logging.INFO):
        return
    # What Powertools renders from a record for its templated keys ("%(levelname)s", ...), and the message.
    rendered = {
        "level": "INFO",
        "location": "write_request_line",
        "message": "request",
        "timestamp": formatter.formatTime(_Instant(time.time())),  # type: ignore[arg-type]  # reads .created, .msecs
        "name": _service_logger.name,
    }
    line = {}
    for key, value in formatter.get_current_keys().items():
        shown = rendered.get(key, value)
        if shown is not None:  # Powertools leaves out keys without a value (e.g. sampling_rate)
            line[key] = shown
    line["correlation_id"] = correlation_id
    line.update(fields)
    trace_id = current_trace_id()  # the one the formatter puts on every line of the request
    if trace_id is not None:
        line["xray_trace_id"] = trace_id
    installed().write_line(orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE).decode())
