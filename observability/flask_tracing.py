"""X-Ray for the Flask door: one segment per request, opened, completed and sent by three Flask hooks.

The SDK's XRayMiddleware cost twice as much CPU (bench/README.md): it records the user agent, client IP
and content length, builds the URL through werkzeug's quoting, copies the runtime metadata per segment, and
patches template rendering. These hooks keep
what the trace is read for: method, URL without its query string, status with the error, throttle and
fault flags, the route and correlation id annotated by the request observation, the response trace
header, and the incoming `X-Amzn-Trace-Id` honoured (Root, Parent, Sampled). The sampling decision is
the SDK sampler's (centralized rules) unless XRAY_SAMPLING=all or the caller decided.
"""

import traceback

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.models import http
from aws_xray_sdk.core.models.dummy_entities import DummySegment
from aws_xray_sdk.core.models.segment import Segment
from aws_xray_sdk.core.models.trace_header import TraceHeader
from aws_xray_sdk.core.recorder import SERVICE_INFO, XRAY_META
from flask import Flask, Response, request

from .tracing import exception_without_message

_CALLER_ASKS = "?"  # Sampled=? : the caller wants the decision back in the response header


def trace_requests(app: Flask) -> None:
    """Registered before the other hooks, so the segment is open while they run and ends after them."""
    app.before_request(_begin_segment)
    app.after_request(_record_response)
    app.teardown_request(_end_segment)


def _begin_segment() -> None:
    incoming = TraceHeader.from_header_str(request.headers.get(http.XRAY_HEADER))
    decision = _sampling_decision(incoming)
    if decision:
        segment = Segment(xray_recorder.service, traceid=incoming.root, parent_id=incoming.parent)
        segment.aws = _runtime_metadata(decision)
        segment.service = SERVICE_INFO
        segment.http = {"request": {http.METHOD: request.method, http.URL: _url_without_query()}}
    else:
        segment = DummySegment(xray_recorder.service)  # kept in the context: statements see it is unsampled
        segment.trace_id = incoming.root or segment.trace_id
    segment.save_origin_trace_header(incoming)
    xray_recorder.context.put_segment(segment)


def _sampling_decision(incoming: TraceHeader) -> int | str:
    """1, or the matching centralized rule's name, to trace; 0 not to."""
    if incoming.sampled in (0, 1):
        return incoming.sampled
    if not xray_recorder.sampling:
        return 1
    rule = xray_recorder.sampler.should_trace(
        {"host": request.host, "method": request.method, "path": request.path, "service": xray_recorder.service}
    )
    return rule or 0


def _url_without_query() -> str:
    # request.base_url, without werkzeug's quoting and IRI round trip (5 µs): the same text for reading.
    return f"{request.scheme}://{request.host}{request.root_path}{request.path}"


_AWS_METADATA = {"xray": dict(XRAY_META["xray"])}  # shared: nothing changes a segment's `aws` after this


def _runtime_metadata(decision: int | str) -> dict:
    if isinstance(decision, str):
        return {"xray": {**_AWS_METADATA["xray"], "sampling_rule_name": decision}}
    return _AWS_METADATA


def _record_response(response: Response) -> Response:
    segment = xray_recorder.current_segment()
    if segment is not None:
        segment.put_http_meta(http.STATUS, response.status_code)  # sets error / throttle / fault (a no-op unsampled)
        response.headers[http.XRAY_HEADER] = _response_trace_header(segment)
    return response


def _response_trace_header(segment: Segment) -> str:
    # As the SDK's prepare_response_header: the Root, and the decision only to a caller who asked for it.
    origin = segment.get_origin_trace_header()
    if origin is not None and origin.sampled == _CALLER_ASKS:
        return f"Root={segment.trace_id};Sampled={int(segment.sampled)}"
    return f"Root={segment.trace_id}"


def _end_segment(error: BaseException | None) -> None:
    segment = xray_recorder.current_segment()
    if segment is None:
        return
    if error is not None:  # escaped every error handler: the client got a 500
        segment.put_http_meta(http.STATUS, 500)
        segment.add_exception(
            exception_without_message(error),
            traceback.extract_tb(error.__traceback__, limit=xray_recorder.max_trace_back),
        )
    xray_recorder.end_segment()
