"""gunicorn's own lines (listening, workers booting, exiting or timing out, errors outside the app) as the
service's JSON lines: on EC2 they share the log group with the request lines, and a WORKER TIMEOUT must be
found by the same Logs Insights query as any other error.

Like every line of the service, they never carry exception text: an exception is described by its types and
frames (logs.exception_fields), and the arguments of a line that reports one are withheld, since gunicorn
names the request's URI there, query string included (a search by name or email)."""

import logging

from gunicorn import glogging

from .logs import exception_fields, formatter

WITHHELD = "<withheld>"


class JsonLinesLogger(glogging.Logger):
    """gunicorn's logger (`logger_class`), its error log formatted by the service's JSON formatter."""

    def setup(self, cfg) -> None:  # noqa: ANN001 (gunicorn's Config)
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(formatter)
            handler.addFilter(_withhold_exception_text)


def _withhold_exception_text(record: logging.LogRecord) -> bool:
    if record.exc_info and record.exc_info[1] is not None:
        record.__dict__.update(exception_fields(record.exc_info[1]))
        record.exc_info = record.exc_text = None
        if isinstance(record.args, tuple):
            record.args = (WITHHELD,) * len(record.args)
        elif record.args:
            record.msg, record.args = f"{record.msg} ({WITHHELD})", ()
    return True
