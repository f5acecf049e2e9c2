"""Instrumentation of the Flask door: an X-Ray segment per request, the request observation, and EMF
flushed per interval (or per request). One hook of each kind: the segment opens first and ends last."""

import atexit

from flask import Flask, Response, g, request

from . import ec2_metadata, settings, signal_writer
from .emf import IntervalFlusher
from .flask_tracing import begin_segment, configure_resource, configure_sampling, end_segment, record_response
from .metrics import recorder
from .requests import FLASK, REQUEST_ID_HEADER, RequestObservation, correlation_id_from
from .signal_writer import SignalWriter

_flusher: IntervalFlusher | None = None
_REQUEST_ID_ENVIRON_KEY = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


def instrument_flask(app: Flask) -> None:
    """With the settings in force (configuration.configure): METRICS_FLUSH_INTERVAL_S (default 10) aggregates EMF
    per interval per worker, 0 flushes per request; SIGNALS_FLUSH_INTERVAL_MS (default 50) batches request log lines
    and X-Ray datagrams, 0 writes each at once."""
    observability = settings.current
    if not observability.enabled:
        return
    tracing = observability.tracing
    if tracing:
        configure_sampling()
        # The instance metadata service asked once per process.
        configure_resource(ec2_metadata.this_instance(observability.ec2_metadata_disabled,
                                                      observability.ec2_metadata_endpoint))
    flush_interval_s = observability.metrics_flush_interval_s
    if flush_interval_s > 0:
        _start_flusher(flush_interval_s)
    if observability.signals_flush_interval_ms > 0:
        _start_signal_writer(observability.signals_flush_interval_ms / 1000, observability.signals_queue_max)

    @app.before_request
    def _observe() -> None:
        if tracing:
            begin_segment()  # first: the observation annotates it, statements land in it
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
        if flush_interval_s <= 0:
            recorder.flush()
        return response

    @app.teardown_request
    def _end(error: BaseException | None) -> None:
        trace = g.get("trace")
        if trace is not None:
            end_segment(trace, error)


def _start_signal_writer(interval_s: float, max_waiting: int) -> None:
    if signal_writer.writer is None:  # one per process, however many apps the process creates
        signal_writer.writer = SignalWriter(interval_s, max_waiting)
        signal_writer.writer.start()
        atexit.register(signal_writer.writer.stop)


def _start_flusher(interval_s: float) -> None:
    global _flusher
    if _flusher is None:  # one per process, however many apps the process creates
        _flusher = IntervalFlusher(recorder, interval_s)
        _flusher.start()
        atexit.register(_flusher.stop)
