"""The service's structured logger: Powertools Logger, JSON lines on stdout. Python's logging is process-wide, and so is
this logger: apply_settings() (called by runtime.install) sets its service key and level."""

import logging
import sys
import traceback

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from .context import current_request, current_trace_id
from .settings import SERVICE_NAME, ObservabilitySettings


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the time (Lambda's, gunicorn's, or a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class _TraceAwareFormatter(LambdaPowertoolsFormatter):
    """Powertools reads the trace id from Lambda's environment variable only; a Flask worker serves many traces at
    once, so the request's own trace id (the same one in Lambda) is put on the line instead, through the hook
    Powertools documents for changing a line's keys: serialize() receives the finished line ("Bring your own
    formatter", https://docs.powertools.aws.dev/lambda/python/latest/core/logger/#bring-your-own-formatter). The key
    keeps its place: Powertools adds it last, and leaves it out when it has no value."""

    def serialize(self, log: LogRecord) -> str:
        trace_id = current_trace_id()
        if trace_id is not None:
            log["xray_trace_id"] = trace_id
        return super().serialize(log)


class _CorrelationIdFilter(logging.Filter):
    """Puts the request's correlation id on every line logged while serving it: one lookup per line, instead
    of adding and clearing logger keys per request. A caller's own `correlation_id` extra is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = current_request.get()
        if request is not None:
            record.__dict__.setdefault("correlation_id", request.correlation_id)
        return True


formatter = _TraceAwareFormatter(utc=True)
logger = Logger(
    service=SERVICE_NAME,
    level="INFO",
    stream=_CurrentStdout(),  # type: ignore[arg-type]  # typed IO[str]; a logging stream needs write and flush
    logger_formatter=formatter,
)


def apply_settings(settings: ObservabilitySettings) -> None:
    """The service key and level of every line (OBSERVABILITY=off leaves warnings and errors)."""
    logger.append_keys(service=settings.service_name)
    logger.setLevel(settings.log_level if settings.enabled else "WARNING")


WITHHELD = "<withheld>"


def withhold_exception_text(record: logging.LogRecord) -> bool:
    """A handler filter for the lines of other libraries (the service's own choose what they say): a line
    reporting an exception names its types and frames (exception_fields) instead of its text, and its arguments
    are withheld (gunicorn's is the request's URI, query string included; a driver's can quote a row)."""
    if record.name != logger.name and record.exc_info and record.exc_info[1] is not None:
        record.__dict__.update(exception_fields(record.exc_info[1]))
        record.exc_info = record.exc_text = None
        if isinstance(record.args, tuple):
            record.args = (WITHHELD,) * len(record.args)
        elif record.args:
            record.msg, record.args = f"{record.msg} ({WITHHELD})", ()
    return True


# On the handler, not the logger: the libraries' loggers below share the handler, and their lines get the id too.
logger.registered_handler.addFilter(_CorrelationIdFilter())
logger.registered_handler.addFilter(withhold_exception_text)
# The connection pool reports failed connection attempts, and the X-Ray SDK's sampler failures to reach the
# daemon, through stdlib logging: same JSON lines, same stream. Getting a logger first registers it, whichever
# module is imported first.
logging.getLogger("psycopg")
logging.getLogger("aws_xray_sdk")
copy_config_to_registered_loggers(source_logger=logger, include={"psycopg", "aws_xray_sdk"}, log_level="WARNING")


def exception_fields(error: BaseException) -> dict[str, object]:
    """What a log line may say about an exception: its types and where it was raised, never its message.

    Driver messages can quote the row that failed ("Failing row contains (..., Ada, ada@...)"), so no
    exception text reaches the logs; the type, the chain of causes and the frames are enough to find it.
    """
    chain: list[str] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(f"{type(current).__module__}.{type(current).__qualname__}")
        current = current.__cause__ or current.__context__
    frames = traceback.extract_tb(error.__traceback__)
    return {
        "exception_type": chain[0],
        "exception_chain": chain,
        "stack": [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in frames[-15:]],
    }
