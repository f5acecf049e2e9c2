"""A stand-in for API Gateway REST (Lambda proxy integration, payload v1).

`sam local` needs Docker; this needs only the standard library. It builds the same events API Gateway sends
(see /work/shared/fixtures), invokes a Lambda function with them (the local Lambda service of lambda_runtime.py,
or a handler in this process, with the environment the Lambda runtime sets), and maps the proxy response back to HTTP
the way API Gateway does, with its own answers where it answers itself: the template's gateway responses
(infra/render.py) where the template customizes them, API Gateway's defaults elsewhere. With `metrics`, it publishes
AWS/ApiGateway's metrics per request, as API Gateway does.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import secrets
import socket
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from time import monotonic
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from infra.render import GATEWAY_RESPONSES, gateway_response

from .cloudwatch import COUNT, MILLISECONDS, AwsMetrics
from .ports import Port, PortInUse, is_address_in_use

LambdaHandler = Callable[[dict, Any], dict]

REPO_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
API_ID = "local00api"  # ten characters, like a real REST API id
CATCH_ALL_RESOURCE = "/{proxy+}"
DEFAULT_REGION = "us-east-1"
TRACE_HEADER = "X-Amzn-Trace-Id"

# %b follows the process locale; API Gateway always writes English month names.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_TEXTUAL_SUBTYPES = frozenset({"json", "xml", "javascript", "x-www-form-urlencoded"})
_PROXY_RESPONSE_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})
# The gateway frames the body itself, so these must not come from the handler.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})
_DISCARD_CHUNK_BYTES = 64 * 1024
# How long shutdown() may wait for the serve loop to notice it (the stdlib default is half a second).
_SHUTDOWN_POLL_INTERVAL_S = 0.05
# API Gateway's default (and, for REST APIs, maximum by default) integration timeout:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
INTEGRATION_TIMEOUT_S = 29.0
API_GATEWAY_NAMESPACE = "AWS/ApiGateway"
# By API and stage, and by resource and method too: the stage's MethodSettings turn detailed metrics on.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
_API_DIMENSION_SETS = (("ApiName", "Stage"), ("ApiName", "Stage", "Resource", "Method"))

# One "container" per process: Lambda runs one invocation at a time per execution environment, and Powertools
# keeps per-invocation state in globals (Logger keys, the resolver's current_event).
_INVOCATION_LOCK = threading.Lock()
_CONTAINER_STARTED = datetime.now(UTC)
_LOG_STREAM_NAME = f"{_CONTAINER_STARTED:%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def build_rest_event(
    method: str,
    path: str,
    *,
    query: Sequence[tuple[str, str]] = (),
    headers: Sequence[tuple[str, str]] = (),
    body: bytes | None = None,
    route_templates: Sequence[str] = (),
    stage: str = "local",
    request_id: str | None = None,
    source_ip: str = "127.0.0.1",
) -> dict:
    """Build the event API Gateway REST sends to a Lambda proxy integration (payload format 1.0)."""
    resource, path_parameters = _match_route(path, route_templates)
    single_headers, multi_headers = _single_and_multi_value_maps(headers)
    single_query, multi_query = _single_and_multi_value_maps(query)
    encoded_body, is_base64_encoded = _encode_body(body, _last_header_value(headers, "Content-Type"))
    now = datetime.now(UTC)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            # Real resource ids are stable per resource and differ between resources.
            "resourceId": hashlib.sha1(resource.encode()).hexdigest()[:6],
            "stage": stage,
            "requestId": request_id or str(uuid.uuid4()),
            "requestTime": f"{now:%d}/{_MONTHS[now.month - 1]}/{now:%Y:%H:%M:%S} +0000",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "accessKey": None,
                "sourceIp": source_ip,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": _last_header_value(headers, "User-Agent"),
                "user": None,
            },
            "path": f"/{stage}{path}",
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": API_ID,
            "protocol": "HTTP/1.1",
        },
        "body": encoded_body,
        "isBase64Encoded": is_base64_encoded,
    }


def _match_route(path: str, route_templates: Sequence[str]) -> tuple[str, dict[str, str] | None]:
    """Pick the most specific matching template, as API Gateway does, and extract its path parameters."""
    segments = _split_path(path)
    best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
    for template in route_templates:
        parameters = _match_template(_split_path(template), segments)
        if parameters is None:
            continue
        specificity = _specificity(template)
        if best is None or specificity > best[0]:
            best = (specificity, template, parameters)
    if best is None:
        return CATCH_ALL_RESOURCE, {"proxy": unquote(path.lstrip("/"))}
    _, resource, parameters = best
    return resource, parameters or None  # API Gateway sends null, not {}, for a resource without parameters


def _split_path(path: str) -> list[str]:
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def _is_greedy(template_segment: str) -> bool:
    return template_segment.startswith("{") and template_segment.endswith("+}")


def _is_parameter(template_segment: str) -> bool:
    return template_segment.startswith("{") and template_segment.endswith("}")


def _match_template(template_segments: list[str], segments: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for index, template_segment in enumerate(template_segments):
        if _is_greedy(template_segment):
            remainder = segments[index:]
            if not remainder:
                return None
            parameters[template_segment[1:-2]] = unquote("/".join(remainder))
            return parameters
        if index >= len(segments):
            return None
        if _is_parameter(template_segment):
            if not segments[index]:
                return None
            parameters[template_segment[1:-1]] = unquote(segments[index])
        elif template_segment != segments[index]:
            return None
    return parameters if len(template_segments) == len(segments) else None


def _specificity(template: str) -> tuple[int, ...]:
    """Left to right, a literal segment beats {param}, which beats {greedy+}."""
    return tuple(0 if _is_greedy(segment) else 1 if _is_parameter(segment) else 2 for segment in _split_path(template))


def _single_and_multi_value_maps(
    pairs: Sequence[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    return {name: values[-1] for name, values in multi.items()}, multi


def _last_header_value(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    matches = [value for header_name, value in headers if header_name.lower() == name.lower()]
    return matches[-1] if matches else None


def _encode_body(body: bytes | None, content_type: str | None) -> tuple[str | None, bool]:
    if not body:
        return None, False
    if content_type is not None and _is_textual(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _is_textual(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    main_type, _, subtype = media_type.partition("/")
    # rpartition covers structured suffixes such as application/problem+json.
    return main_type == "text" or subtype.rpartition("+")[2] in _TEXTUAL_SUBTYPES


class LambdaContext:
    """The `context` object the Lambda Python runtime passes to a handler."""

    def __init__(
        self,
        function_name: str,
        *,
        timeout_s: int = 29,
        memory_mb: int = 512,
        aws_request_id: str | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = _LOG_STREAM_NAME
        self.identity = None  # only set for calls from the AWS Mobile SDK
        self.client_context = None
        self._deadline = monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - monotonic()) * 1000))


def lambda_runtime_environment(function_name: str, *, memory_mb: int = 512) -> dict[str, str]:
    """The variables the Lambda runtime sets for a function, before any code of it is imported.

    Import-time code keys on them (Powertools, and the X-Ray SDK, which uses its Lambda context when
    LAMBDA_TASK_ROOT is set); the Lambda door's trace follows _X_AMZN_TRACE_ID, set per invocation.
    """
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LAMBDA_TASK_ROOT": str(REPO_ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": _LOG_STREAM_NAME,
    }


def invoke(
    handler: LambdaHandler,
    event: dict,
    *,
    function_name: str,
    timeout_s: int = 29,
    memory_mb: int = 512,
    trace_header: str | None = None,
    trace_id: str | None = None,
) -> dict:
    """Call `handler` as the Lambda runtime would: one invocation at a time, with the runtime's environment.

    `trace_id` (a full `Root=...;Parent=...;Sampled=...` header) is used as given; otherwise one is made,
    keeping the Root of an incoming `trace_header`.
    """
    with _INVOCATION_LOCK:
        trace_id = trace_id or new_trace_header(trace_header)
        environment = lambda_runtime_environment(function_name, memory_mb=memory_mb)
        context = LambdaContext(
            function_name, timeout_s=timeout_s, memory_mb=memory_mb, region=environment["AWS_REGION"]
        )
        os.environ.update({**environment, "_X_AMZN_TRACE_ID": trace_id})
        return handler(_with_trace_header(event, trace_id), context)


class Outcome(StrEnum):
    SUCCESS = "success"
    ERROR = "error"  # the function failed: an error it raised or its runtime reported, or its process died
    TIMEOUT = "timeout"  # it ran past its timeout
    THROTTLED = "throttled"  # Lambda refused to invoke it: no concurrency left (429 TooManyRequestsException)


@dataclass(frozen=True)
class Invocation:
    """What Lambda's Invoke API tells a synchronous caller such as API Gateway."""

    outcome: Outcome
    payload: Any  # the function's response (JSON), or Lambda's error document


class LambdaFunction(Protocol):
    name: str

    def invoke(self, event: dict, trace_header: str, *, wait_s: float | None = None) -> Invocation | None:
        """None when the invocation still runs after `wait_s`: the caller stopped waiting for it."""


class InProcessFunction:
    """A handler called in this process, with the runtime's environment, one invocation at a time (the tests'
    gateways; `make run` invokes local_stack.lambda_runtime's environments). No timeout: a call cannot be stopped."""

    def __init__(self, handler: LambdaHandler, name: str, *, log: Callable[[str], None] | None = None) -> None:
        self.handler = handler
        self.name = name
        self.log = log or _write_to_stderr

    def invoke(self, event: dict, trace_header: str, *, wait_s: float | None = None) -> Invocation:
        try:
            return Invocation(
                Outcome.SUCCESS, invoke(self.handler, event, function_name=self.name, trace_id=trace_header)
            )
        except Exception as error:  # noqa: BLE001 - any error of the function is its invocation's, as in Lambda
            self.log(traceback.format_exc())
            return Invocation(Outcome.ERROR, {"errorMessage": str(error), "errorType": type(error).__name__})


def new_trace_header(incoming_trace_header: str | None, sampled: Callable[[], bool] = lambda: True) -> str:
    """A fresh X-Ray trace header; an incoming Root and sampling decision are kept, as API Gateway does, and
    `sampled()` decides for a request that brings none."""
    incoming = _parse_trace_header(incoming_trace_header or "")
    root = incoming.get("Root") or f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    decision = incoming.get("Sampled")
    if decision not in ("0", "1"):
        decision = "1" if sampled() else "0"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled={decision}"


def _trace_every_request(method: str, path: str) -> bool:
    return True


def _parse_trace_header(trace_header: str) -> dict[str, str]:
    fields = (field.strip().partition("=") for field in trace_header.split(";"))
    return {name: value for name, separator, value in fields if separator and value}


def _with_trace_header(event: dict, trace_id: str) -> dict:
    """A copy of `event` whose trace header is `trace_id`, replacing whatever the client sent."""

    def without_trace(headers: dict | None) -> dict:
        return {name: value for name, value in (headers or {}).items() if name.lower() != TRACE_HEADER.lower()}

    return {
        **event,
        "headers": {**without_trace(event.get("headers")), TRACE_HEADER: trace_id},
        "multiValueHeaders": {**without_trace(event.get("multiValueHeaders")), TRACE_HEADER: [trace_id]},
    }


def send_invocation_segment(
    trace_header: str, function_name: str, method: str, path: str, status: int, started: float, ended: float
) -> None:
    """The function's own segment, which in AWS the Lambda service sends (the SDK inside only sends its
    subsegments, parented to it). Sent to AWS_XRAY_DAEMON_ADDRESS when that is set."""
    address = os.environ.get("AWS_XRAY_DAEMON_ADDRESS")
    fields = _parse_trace_header(trace_header)
    if not address or fields.get("Sampled") == "0":
        return
    udp = next((part for part in address.split() if part.startswith("udp:")), address.split()[-1])
    host, _, port = udp.removeprefix("udp:").rpartition(":")
    segment = {
        "name": function_name,
        "id": fields["Parent"],
        "trace_id": fields["Root"],
        "start_time": started,
        "end_time": ended,
        "origin": "AWS::Lambda::Function",
        "http": {"request": {"method": method, "url": path}, "response": {"status": status}},
        "fault": status >= 500,
        "error": 400 <= status < 500,
    }
    datagram = b'{"format": "json", "version": 1}\n' + json.dumps(segment).encode()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(datagram, (host, int(port)))


def lambda_response_to_http(result: dict) -> tuple[int, list[tuple[str, str]], bytes]:
    """Map a proxy integration response to (status, headers, body); raise ValueError where API Gateway answers 502."""
    if not isinstance(result, dict) or not set(result) <= _PROXY_RESPONSE_KEYS:
        raise ValueError(f"Malformed Lambda proxy response: {result!r:.300}")
    status = result.get("statusCode")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise ValueError(f"Malformed Lambda proxy response: statusCode {status!r}")
    single_headers = result.get("headers") or {}
    multi_headers = result.get("multiValueHeaders") or {}
    if not isinstance(single_headers, dict) or not isinstance(multi_headers, dict):
        raise ValueError("Malformed Lambda proxy response: headers and multiValueHeaders must be objects")
    multi_names = {name.lower() for name in multi_headers}
    headers = [(name, str(value)) for name, value in single_headers.items() if name.lower() not in multi_names]
    for name, values in multi_headers.items():
        if not isinstance(values, list):
            raise ValueError(f"Malformed Lambda proxy response: multiValueHeaders[{name!r}] is not a list")
        headers.extend((name, value) for value in dict.fromkeys(str(value) for value in values))
    body = result.get("body")
    if body is None:
        return status, headers, b""
    if not isinstance(body, str):
        raise ValueError(f"Malformed Lambda proxy response: body is {type(body).__name__}, not a string")
    if result.get("isBase64Encoded"):
        return status, headers, base64.b64decode(body, validate=True)
    return status, headers, body.encode("utf-8")


def _api_gateway_answer(
    response_type: str, status: int, message: str, request_id: str
) -> tuple[int, list[tuple[str, str]], bytes]:
    """API Gateway's own answer of `response_type`: the template's where it customizes the type (with the request id
    in X-Request-Id, as its ResponseParameters say), else API Gateway's default, `status` with {"message":
    `message`} (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html)."""
    if response_type in GATEWAY_RESPONSES:
        status, headers, body = gateway_response(response_type)
        return status, [*headers.items(), ("X-Request-Id", request_id)], body
    return status, [("Content-Type", "application/json")], json.dumps({"message": message}).encode()


def _integration_answer(invocation: Invocation | None, request_id: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """What API Gateway answers for a Lambda proxy integration's invocation: the function's response, or, when
    Lambda refused the invocation, INTEGRATION_FAILURE (500 unless customized), when the function failed or timed
    out, DEFAULT_5XX with 502, and when it did not answer within the integration timeout, INTEGRATION_TIMEOUT (504).
    https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html; Lambda's 429 as
    INTEGRATION_FAILURE: https://stackoverflow.com/questions/36363280 (an API Gateway engineer's answer)."""
    if invocation is None:
        return _api_gateway_answer("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out", request_id)
    if invocation.outcome is Outcome.THROTTLED:
        return _api_gateway_answer("INTEGRATION_FAILURE", 500, "Internal server error", request_id)
    if invocation.outcome is Outcome.SUCCESS:
        return lambda_response_to_http(invocation.payload)
    return _api_gateway_answer("DEFAULT_5XX", 502, "Internal server error", request_id)


def _write_to_stderr(message: str) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")


def gateway_listener(host: str, port: int) -> Port:
    """The gateway's port: `make run`'s Lambda door, moved by GATEWAY_PORT."""
    return Port("the Lambda door (local API Gateway)", "GATEWAY_PORT", host, port)


class ApiGatewayMetrics:
    """AWS/ApiGateway's datapoints, as API Gateway defines them, one request at a time: Count, 4XXError and 5XXError
    (0 or 1 each: their Average is the error rate), Latency (request received to response returned) and
    IntegrationLatency (request relayed to the function to its answer; none when the function was not called).
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html"""

    def __init__(self, metrics: AwsMetrics, api_name: str, stage: str) -> None:
        self._metrics = metrics
        self._api = {"ApiName": api_name, "Stage": stage}

    def request(
        self, resource: str, method: str, status: int, latency_ms: float, integration_latency_ms: float | None
    ) -> None:
        values = {
            "Count": (1, COUNT),
            "4XXError": (int(400 <= status < 500), COUNT),
            "5XXError": (int(status >= 500), COUNT),
            "Latency": (latency_ms, MILLISECONDS),
        }
        if integration_latency_ms is not None:
            values["IntegrationLatency"] = (integration_latency_ms, MILLISECONDS)
        self._metrics.put(
            API_GATEWAY_NAMESPACE, _API_DIMENSION_SETS, {**self._api, "Resource": resource, "Method": method}, values
        )


class LocalGateway:
    """An HTTP server on loopback that forwards every request to one Lambda function, like a REST API stage."""

    def __init__(
        self,
        function: LambdaFunction,
        *,
        route_templates: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 3000,
        stage: str = "local",
        metrics: ApiGatewayMetrics | None = None,
        integration_timeout_s: float = INTEGRATION_TIMEOUT_S,
        max_body_bytes: int = 10 * 1024 * 1024,
        trace_decision: Callable[[str, str], bool] | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        """`trace_decision(method, path)` says whether a request that arrives without a sampling decision is traced,
        as API Gateway asks X-Ray's sampling rules; every one by default."""
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"LocalGateway has no authentication, so it binds to loopback only, not {host!r}")
        self.function = function
        self.route_templates = tuple(route_templates)
        self.stage = stage
        self.metrics = metrics
        self.integration_timeout_s = integration_timeout_s
        self.max_body_bytes = max_body_bytes
        self.trace_decision = trace_decision or _trace_every_request
        self.log = log or _write_to_stderr
        # Binding here means the socket is listening before any serve call, so callers never need to wait for it.
        try:
            self._server = _GatewayHTTPServer((host, port), self)
        except OSError as error:
            if is_address_in_use(error):
                raise PortInUse(gateway_listener(host, port)) from None
            raise
        self._serve_requested = False
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def serve_forever(self) -> None:
        self._serve_requested = True
        self._server.serve_forever(poll_interval=_SHUTDOWN_POLL_INTERVAL_S)

    def start_in_thread(self) -> None:
        # Set before the thread runs so that an immediate shutdown() still waits for the serve loop.
        self._serve_requested = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": _SHUTDOWN_POLL_INTERVAL_S},
            name=f"local-gateway-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def shutdown(self) -> None:
        if self._serve_requested:
            self._server.shutdown()  # blocks until the serve loop exits, so only call it when one will run
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()


class _GatewayHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not block shutdown

    def __init__(self, address: tuple[str, int], gateway: LocalGateway) -> None:
        self.gateway = gateway
        super().__init__(address, _ProxyRequestHandler)


class _ProxyRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # One segment per answer, sent at once: headers and body written apart would wait on the client's delayed ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    timeout = 60  # close idle keep-alive connections rather than hold a thread forever
    server: _GatewayHTTPServer

    def _proxy(self) -> None:
        gateway = self.server.gateway
        received = monotonic()
        request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        try:
            content_length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            content_length = -1
        if content_length < 0:
            self.close_connection = True  # the body's end is unknown, so the connection cannot carry another request
            self._answer(_api_gateway_answer("DEFAULT_4XX", 400, "Bad Request", request_id), request_id, received)
            return
        if content_length > gateway.max_body_bytes:
            # Read the body anyway: closing with unread data resets the connection and the client may never see the 413.
            self._discard_body(content_length)
            self._answer(
                _api_gateway_answer("REQUEST_TOO_LARGE", 413, "Request Too Long", request_id), request_id, received
            )
            return
        event = build_rest_event(
            self.command,
            url.path,
            query=parse_qsl(url.query, keep_blank_values=True),
            headers=list(self.headers.items()),
            body=self.rfile.read(content_length) if content_length else None,
            route_templates=gateway.route_templates,
            stage=gateway.stage,
            request_id=request_id,
            source_ip=self.client_address[0],
        )
        trace_id = new_trace_header(
            self.headers.get(TRACE_HEADER), sampled=lambda: gateway.trace_decision(self.command, url.path)
        )
        started = time.time()
        invocation = gateway.function.invoke(
            _with_trace_header(event, trace_id), trace_id, wait_s=gateway.integration_timeout_s
        )
        integration_ms = (time.time() - started) * 1000
        try:
            response = _integration_answer(invocation, request_id)
        except ValueError as malformed:
            gateway.log(f"{self.command} {self.path} -> 502: {malformed}")
            response = _api_gateway_answer("DEFAULT_5XX", 502, "Internal server error", request_id)
        send_invocation_segment(
            trace_id, gateway.function.name, self.command, url.path, response[0], started, time.time()
        )
        self._answer(response, request_id, received, event["resource"], integration_ms)

    def _answer(
        self,
        response: tuple[int, list[tuple[str, str]], bytes],
        request_id: str,
        received: float,
        resource: str | None = None,
        integration_ms: float | None = None,
    ) -> None:
        """Sends API Gateway's answer, then publishes its metrics (the function was called when `integration_ms`)."""
        gateway = self.server.gateway
        status, headers, body = response
        self._send(status, headers, body, request_id=request_id)
        if gateway.metrics is None:
            return
        if resource is None:
            resource, _ = _match_route(urlsplit(self.path).path, gateway.route_templates)
        gateway.metrics.request(resource, self.command, status, (monotonic() - received) * 1000, integration_ms)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _proxy  # noqa: N815 - http.server's names

    def _discard_body(self, content_length: int) -> None:
        remaining = content_length
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, _DISCARD_CHUNK_BYTES))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, *, request_id: str) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log (and idle-timeout notices) BaseHTTPRequestHandler writes to stderr."""
