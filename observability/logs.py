"""The service's structured logger: Powertools Logger, JSON lines on stdout, level from LOG_LEVEL."""

import logging
import sys
import traceback
from contextvars import ContextVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from . import tracing
from .settings import current


class _CurrentStdout:
    """Writes to whatever sys.stdout is at the time (Lambda's, gunicorn's, or a test's capture)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


class _TraceAwareFormatter(LambdaPowertoolsFormatter):
    """Powertools reads the trace id from Lambda's environment variable only; a Flask worker serves
    many traces at once, so the current X-Ray entity (the same id in Lambda) is asked first."""

    def _get_latest_trace_id(self) -> str | None:
        return tracing.trace_id() or super()._get_latest_trace_id()


# The correlation id of the request this thread serves (set and reset by observability/requests.py).
correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)


class _CorrelationIdFilter(logging.Filter):
    """Puts the request's correlation id on every line logged while serving it: one lookup per line, instead
    of adding and clearing logger keys per request. A caller's own `correlation_id` extra is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        current = correlation_id.get()
        if current is not None:
            record.__dict__.setdefault("correlation_id", current)
        return True


formatter = _TraceAwareFormatter(utc=True)
# Its service name and level are set by configuration.configure().
logger = Logger(
    service=current.service_name,
    level=current.log_level,
    stream=_CurrentStdout(),  # type: ignore[arg-type]
    logger_formatter=formatter,
)


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
    chain = []
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
