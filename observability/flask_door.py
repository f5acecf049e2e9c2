"""Instrumentation of the Flask door: an X-Ray segment per request, the request observation, and the worker's
signals written off the request thread by the Observability's threads, or at once when their intervals are 0 (the
metrics then flushed after each request). One hook of each kind: the segment opens first and ends last."""

from flask import Flask, Response, g, request

from . import ec2_metadata
from .flask_tracing import FlaskSegments, end_segment, record_response
from .requests import FLASK, REQUEST_ID_HEADER, RequestObservation, correlation_id_from
from .runtime import installed

_REQUEST_ID_ENVIRON_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


def instrument_flask(app: Flask) -> None:
    """With the Observability in force (runtime.installed): METRICS_FLUSH_INTERVAL_S (default 10) aggregates EMF
    per interval per worker, 0 flushes after each request; SIGNALS_FLUSH_INTERVAL_MS (default 50) batches request
    log lines and X-Ray datagrams, 0 writes each at once."""
    observability = installed()
    if not observability.settings.enabled:
        return
    settings = observability.settings
    segments = None
    if settings.tracing:
        # The instance metadata service asked once per process.
        segments = FlaskSegments(
            settings, ec2_metadata.this_instance(settings.ec2_metadata_disabled, settings.ec2_metadata_endpoint)
        )
    flush_after_each_request = settings.metrics_flush_interval_s <= 0
    observability.write_in_background()

    @app.before_request
    def _observe() -> None:
        if segments is not None:
            segments.begin_segment(installed())  # first: the observation annotates it, statements land in it
        g.observation = RequestObservation(
            FLASK, request.method, correlation_id_from(request.environ.get(_REQUEST_ID_ENVIRON_KEY))
        )

    @app.after_request
    def _finish(response: Response) -> Response:
        observation: RequestObservation = g.observation
        response.headers[REQUEST_ID_HEADER] = observation.correlation_id
        observation.finish(response.status_code)
        trace = g.get("trace")
        if trace is not None:
            record_response(trace, response)
        if flush_after_each_request:
            installed().flush()
        return response

    @app.teardown_request
    def _end(error: BaseException | None) -> None:
        trace = g.get("trace")
        if trace is not None:
            end_segment(trace, error)
