"""Observability for both front doors and the data layer: structured logs, EMF metrics and X-Ray traces.

The only package that configures logging, metrics or tracing, and this module is all the rest of the service imports
from it (tests/observability/test_surface.py keeps it so):

    the composition root  ObservabilitySettings, install: the settings put in force once, at start; installed and
                          Observability: the one in force (runtime.py), for a tool that flushes before it exits
    the doors             instrument_api_handler (Lambda), instrument_flask and JsonLinesLogger (Flask, gunicorn),
                          current_correlation_id: each request observed, traced and logged, its correlation id
    the contract layer    set_route, logger, exception_fields: the route's template, and the service's log lines
    the data layer        observe_statement, record_pool_wait, record_connection_error, record_fast_refusal
    the domain            business: its events, as metrics

The Flask door's parts are imported when first asked for: they need flask, gunicorn and the X-Ray SDK (the `flask`
extra), which the Lambda functions do not ship.
"""

from typing import TYPE_CHECKING

from . import business
from .database import observe_statement, record_connection_error, record_fast_refusal, record_pool_wait
from .lambda_door import instrument_api_handler
from .logs import exception_fields, logger
from .requests import current_correlation_id, set_route
from .runtime import Observability, install, installed
from .settings import ObservabilitySettings

if TYPE_CHECKING:
    from .flask_door import instrument_flask
    from .gunicorn_logging import JsonLinesLogger

__all__ = [
    "JsonLinesLogger",
    "Observability",
    "ObservabilitySettings",
    "business",
    "current_correlation_id",
    "exception_fields",
    "install",
    "installed",
    "instrument_api_handler",
    "instrument_flask",
    "logger",
    "observe_statement",
    "record_connection_error",
    "record_fast_refusal",
    "record_pool_wait",
    "set_route",
]


def __getattr__(name: str) -> object:
    if name == "instrument_flask":
        from .flask_door import instrument_flask

        return instrument_flask
    if name == "JsonLinesLogger":
        from .gunicorn_logging import JsonLinesLogger

        return JsonLinesLogger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
