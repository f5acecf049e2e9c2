"""X-Ray for the Flask door: one segment per request, begun, completed and sent from the door's hooks.

The segment holds what a trace is read for: method, URL without its query string, status with the error,
throttle and fault flags, the route and correlation id annotated by the request observation, and the
statements; the response carries the trace header, and an incoming `X-Amzn-Trace-Id` is honoured (Root,
Parent, Sampled). Which requests are traced is the SDK sampler's decision by the project's sampling rules
(centralized in AWS, in-process locally: observability/sampling.py), unless XRAY_SAMPLING=all or the caller
decided. The segment's origin is `AWS::EC2::Instance`, what this door is
(the service map draws it as one, `make run` included); on EC2 it also names its instance (`aws.ec2`),
read once per process at boot (ec2_metadata).
"""

import platform
from functools import cache
from typing import Any

from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.recorder import XRAY_META
from aws_xray_sdk.core.sampling.local.sampler import LocalSampler
from aws_xray_sdk.core.sampling.sampler import DefaultSampler
from flask import Response, g, request

from .ec2_metadata import Ec2Instance
from .runtime import Observability
from .sampling import load_rules, local_sampler
from .settings import ObservabilitySettings
from .tracing import TRACE_HEADER, Trace, TraceHeader, begin_trace

_TRACE_HEADER_ENVIRON_KEY = "HTTP_" + TRACE_HEADER.upper().replace("-", "_")
_CALLER_ASKS = "?"  # Sampled=? : the caller wants the decision back in the response header
_SERVICE = {"runtime": platform.python_implementation(), "runtime_version": platform.python_version()}
EC2_ORIGIN = "AWS::EC2::Instance"


@cache
def _sampler(local_rules: bool) -> LocalSampler | DefaultSampler:
    """One sampler of each kind per process, as the recorder is one per process: the SDK's DefaultSampler makes an
    X-Ray client (and, started, a rule poller) of its own, which every app built in the process would otherwise
    make again."""
    return local_sampler(load_rules()) if local_rules else DefaultSampler()


class FlaskSegments:
    """The segments of one instrumented app: where they ran (the EC2 instance, read at boot) is said by every one."""

    def __init__(self, settings: ObservabilitySettings, instance: Ec2Instance | None) -> None:
        """XRAY_SAMPLING=all traces every request (tests, the bench); `rules` applies the project's sampling rules
        (observability/sampling_rules.json) in-process, as `make run` does; `centralized` (AWS) applies the same
        rules as X-Ray serves them, which the SDK's sampler fetches through the daemon, with the file's rules until
        it has (the SDK's recorder is its own process-wide object, configured through its API)."""
        sampling, sampler = settings.xray_sampling != "all", _sampler(settings.xray_sampling == "rules")
        # The recorder is process-wide and keeps whatever it was given last: configured unless it already is so
        # (configuring again makes the SDK's sampler build a new X-Ray client).
        if (xray_recorder.service, xray_recorder.sampling, xray_recorder.sampler) != (
            settings.service_name,
            sampling,
            sampler,
        ):
            xray_recorder.configure(
                service=settings.service_name,
                sampling=sampling,
                sampling_rules=load_rules().local_document(),  # centralized: what applies until X-Ray's rules arrive
                sampler=sampler,
                context_missing="IGNORE_ERROR",  # the recorder itself records nothing here
            )
        xray = dict(XRAY_META["xray"])
        ec2 = (
            {}
            if instance is None
            else {"ec2": {"instance_id": instance.instance_id, "availability_zone": instance.availability_zone}}
        )
        # Shared by every segment (nothing changes a segment's `aws` once begun).
        self._aws: dict[str, Any] = {**ec2, "xray": xray}

    def begin_segment(self, observability: Observability) -> Trace:
        """The request's segment (or its unsampled trace), current until end_segment."""
        environ = request.environ
        incoming = TraceHeader.parse(environ.get(_TRACE_HEADER_ENVIRON_KEY))
        service_name = observability.settings.service_name
        decision = _sampling_decision(incoming, service_name)
        trace = begin_trace(
            incoming,
            service_name,
            bool(decision),
            observability.daemon,
            http={"request": {"method": request.method, "url": _url_without_query(environ)}},
            aws=self._runtime_metadata(decision),
            service=_SERVICE,
            origin=EC2_ORIGIN,
        )
        g.trace, g.trace_caller_asks = trace, incoming.sampled == _CALLER_ASKS
        return trace

    def _runtime_metadata(self, decision: int | str) -> dict[str, Any]:
        if isinstance(decision, str):
            return {**self._aws, "xray": {**self._aws["xray"], "sampling_rule_name": decision}}
        return self._aws


def record_response(trace: Trace, response: Response) -> None:
    _record_status(trace, response.status_code)
    # As the SDK's middleware answers: the Root, and the decision only to a caller who asked for it.
    answer = f"Root={trace.trace_id}"
    response.headers[TRACE_HEADER] = f"{answer};Sampled={int(trace.sampled)}" if g.trace_caller_asks else answer


def end_segment(trace: Trace, error: BaseException | None) -> None:
    if error is not None:  # escaped every error handler: the client got a 500
        _record_status(trace, 500)
        trace.record_exception(error)
    trace.end()


def _sampling_decision(incoming: TraceHeader, service_name: str) -> int | str:
    """1, or the matching centralized rule's name, to trace; 0 not to."""
    if incoming.sampled in ("0", "1"):
        return int(incoming.sampled)
    if not xray_recorder.sampling:
        return 1
    rule = xray_recorder.sampler.should_trace(
        {
            "host": request.host,
            "method": request.method,
            "path": request.path,
            "service": service_name,
            "service_type": EC2_ORIGIN,
        }  # what the rules rendered for this door match (infra/render.py)
    )
    return rule or 0


def _url_without_query(environ: dict[str, Any]) -> str:
    # request.base_url without werkzeug's quoting, IRI round trip and host checks: the same text, for reading.
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    return f"{environ['wsgi.url_scheme']}://{host}{environ.get('SCRIPT_NAME', '')}{request.path}"


def _record_status(trace: Trace, status: int) -> None:
    document = trace.document
    if document is None:
        return
    document["http"]["response"] = {"status": status}
    if 400 <= status < 500:
        document["error"] = True
        if status == 429:
            document["throttle"] = True
    elif status >= 500:
        document["fault"] = True
