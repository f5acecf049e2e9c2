"""The request log line: one per request, the line the service writes most, so it skips `logging`.

It has the fields a Powertools line would have (the logger's persistent keys: service, name, and in Lambda
the invocation's context; correlation id, the request's fields, the trace id), in the same order and
timestamp format, but no LogRecord, no caller lookup (`location` names this function) and no dict-merging
formatter: the keys are read as they stand, rendered by orjson, and written to stdout in one write.
"""

import logging
import sys
import time

import orjson

from . import signal_writer
from .logs import formatter, logger

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
        "timestamp": formatter.formatTime(_Instant(time.time())),  # type: ignore[arg-type]
        "name": _service_logger.name,
    }
    line = {}
    for key, value in formatter.get_current_keys().items():
        value = rendered.get(key, value)
        if value is not None:  # Powertools leaves out keys without a value (e.g. sampling_rate)
            line[key] = value
    line["correlation_id"] = correlation_id
    line.update(fields)
    trace_id = formatter._get_latest_trace_id()  # the one our formatter puts on every line
    if trace_id is not None:
        line["xray_trace_id"] = trace_id
    text = orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE).decode()
    if signal_writer.writer is not None:
        signal_writer.writer.write_line(text)
        return
    stdout = sys.stdout  # looked up per line: Lambda and test captures replace it
    try:
        stdout.write(text)
        stdout.flush()  # as the logging handler does: the line is out when the request is answered
    except (OSError, ValueError):
        pass  # a closed or broken stdout fails no request, as with a logging handler
