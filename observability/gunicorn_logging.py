"""gunicorn's own lines (listening, workers booting, exiting or timing out, errors outside the app) as the
service's JSON lines: on EC2 they share the log group with the request lines, and a WORKER TIMEOUT must be
found by the same Logs Insights query as any other error.

Like every line of the service, they never carry exception text: an exception is described by its types and
frames, and the arguments of a line that reports one are withheld, since gunicorn names the request's URI there,
query string included (a search by name or email): logs.withhold_exception_text."""

from typing import Any

from gunicorn import glogging

from .logs import formatter, withhold_exception_text


class JsonLinesLogger(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no types: its Logger is Any
    """gunicorn's logger (`logger_class`), its error log formatted by the service's JSON formatter."""

    def setup(self, cfg: Any) -> None:  # gunicorn's Config, untyped
        super().setup(cfg)
        for handler in self.error_log.handlers:
            handler.setFormatter(formatter)
            handler.addFilter(withhold_exception_text)
