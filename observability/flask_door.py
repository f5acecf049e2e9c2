"""Instrumentation of the Flask door: an X-Ray segment per request, the request observation, and EMF
flushed per interval (or per request)."""

import atexit
import os

from flask import Flask, Response, g, request

from .emf import IntervalFlusher
from .flask_tracing import trace_requests
from .metrics import recorder
from .requests import FLASK, REQUEST_ID_HEADER, RequestObservation, correlation_id_from
from .settings import ENABLED
from .tracing import TRACING_ENABLED

_flusher: IntervalFlusher | None = None


def instrument_flask(app: Flask) -> None:
    """METRICS_FLUSH_INTERVAL_S (default 10) aggregates EMF per interval per worker; 0 flushes per request."""
    if not ENABLED:
        return
    if TRACING_ENABLED:
        trace_requests(app)  # registered first, so its segment exists before our hooks run
    flush_interval_s = float(os.environ.get("METRICS_FLUSH_INTERVAL_S", "10"))
    if flush_interval_s > 0:
        _start_flusher(flush_interval_s)

    @app.before_request
    def _observe() -> None:
        g.observation = RequestObservation(
            FLASK, request.method, correlation_id_from(request.headers.get(REQUEST_ID_HEADER))
        )

    @app.after_request
    def _finish(response: Response) -> Response:
        observation: RequestObservation = g.observation
        response.headers[REQUEST_ID_HEADER] = observation.correlation_id
        observation.finish(response.status_code)
        if flush_interval_s <= 0:
            recorder.flush()
        return response


def _start_flusher(interval_s: float) -> None:
    global _flusher
    if _flusher is None:  # one per process, however many apps the process creates
        _flusher = IntervalFlusher(recorder, interval_s)
        _flusher.start()
        atexit.register(_flusher.stop)
