"""Tests for local_stack.gateway, the Docker-free stand-in for API Gateway REST (proxy integration, payload v1)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from infra.render import gateway_response
from local_stack import gateway as gateway_module
from local_stack.gateway import (
    InProcessFunction,
    LambdaContext,
    LocalGateway,
    build_rest_event,
    invoke,
    lambda_response_to_http,
)

# Made by `sam local generate-event apigateway aws-proxy`; see the README there.
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
# Maps whose keys are request data, so their keys differ between any two events.
FREE_FORM_MAPS = frozenset(
    {
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
    }
)
TRACE_ID_PATTERN = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1")
INCOMING_ROOT = "1-5759e988-bd862e3fe1be46a994272793"
TEMPLATES = ("/students/{student_id}", "/students/count", "/health")
# A direct opener: a developer's http_proxy must not capture requests to loopback.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def shape(value: Any, key: str = "") -> Any:
    """Nested key structure and leaf types of an event; free-form maps count as leaves."""
    if key in FREE_FORM_MAPS:
        return "free-form map"
    if isinstance(value, dict):
        return {child_key: shape(child, child_key) for child_key, child in value.items()}
    return type(value).__name__


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES_DIR / name).read_text())


def http_request(
    url: str, *, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with HTTP.open(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


@pytest.fixture
def start_gateway(serve_gateway: Callable[..., LocalGateway]) -> Callable[..., LocalGateway]:
    def start(
        handler: Callable[[dict, Any], dict], log: Callable[[str], None] | None = None, **options: Any
    ) -> LocalGateway:
        return serve_gateway(InProcessFunction(handler, "students-api", log=log), log=log, **options)

    return start


def url_of(gateway: LocalGateway, path_and_query: str) -> str:
    return f"http://127.0.0.1:{gateway.port}{path_and_query}"


def echo_handler(event: dict, context: LambdaContext) -> dict:
    return {
        "statusCode": 201,
        "headers": {"Content-Type": "application/json", "X-Single": "one"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]},
        "body": json.dumps(
            {
                "event": event,
                "function_name": context.function_name,
                "remaining_ms": context.get_remaining_time_in_millis(),
            }
        ),
        "isBase64Encoded": False,
    }


# --- Building events -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture_name", "method", "path"),
    [("apigw-rest-proxy-get.json", "GET", "/students/1"), ("apigw-rest-proxy-post.json", "POST", "/students")],
)
def test_built_event_has_the_same_keys_and_nesting_as_the_sam_event(fixture_name: str, method: str, path: str) -> None:
    # Given a request like the one the SAM event describes
    fixture = load_fixture(fixture_name)

    # When the gateway builds its event
    event = build_rest_event(
        method,
        path,
        query=[("foo", "bar")],
        headers=[("User-Agent", "Custom User Agent String"), ("Content-Type", "application/json")],
        body=b'{"test":"body"}',
        route_templates=TEMPLATES,
    )

    # Then every level has the same keys, and the leaves the same types, as the real event
    assert shape(event) == shape(fixture)
    assert event["resource"] == fixture["resource"]
    assert event["requestContext"]["resourcePath"] == fixture["requestContext"]["resourcePath"]


def test_request_context_describes_the_request() -> None:
    # Given a request id and a client address
    before_ms = int(time.time() * 1000)

    # When an event is built for a stage
    event = build_rest_event(
        "GET",
        "/students/7",
        headers=[("User-Agent", "pytest")],
        route_templates=TEMPLATES,
        stage="dev",
        request_id="req-1",
        source_ip="127.0.0.9",
    )

    # Then the context carries them, with API Gateway's time formats and the stage-prefixed path
    context = event["requestContext"]
    assert context["requestId"] == "req-1"
    assert context["stage"] == "dev"
    assert context["path"] == "/dev/students/7"
    assert context["httpMethod"] == "GET"
    assert context["identity"]["sourceIp"] == "127.0.0.9"
    assert context["identity"]["userAgent"] == "pytest"
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000", context["requestTime"])
    assert before_ms <= context["requestTimeEpoch"] <= int(time.time() * 1000)


def test_request_id_defaults_to_a_fresh_uuid() -> None:
    # Given no request id / When two events are built
    first, second = (build_rest_event("GET", "/health")["requestContext"]["requestId"] for _ in range(2))

    # Then each has its own uuid4
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", first)
    assert first != second


@pytest.mark.parametrize("templates", [TEMPLATES, tuple(reversed(TEMPLATES))])
def test_literal_segment_wins_over_a_parameter_whatever_the_order(templates: tuple[str, ...]) -> None:
    # Given templates where "/students/count" also matches "/students/{student_id}"
    # When the literal path and a parameter path are requested
    count = build_rest_event("GET", "/students/count", route_templates=templates)
    student = build_rest_event("GET", "/students/42", route_templates=templates)

    # Then the literal resource wins, with null pathParameters as API Gateway sends for a resource without any
    assert (count["resource"], count["pathParameters"]) == ("/students/count", None)
    assert (student["resource"], student["pathParameters"]) == ("/students/{student_id}", {"student_id": "42"})
    assert student["requestContext"]["resourcePath"] == "/students/{student_id}"


def test_path_parameters_are_url_decoded_exactly_once() -> None:
    # Given a path segment that is percent-encoded twice
    # When the event is built
    event = build_rest_event("GET", "/students/a%2520b", route_templates=TEMPLATES)

    # Then the parameter is decoded once and the path is left as received
    assert event["pathParameters"] == {"student_id": "a%20b"}
    assert event["path"] == "/students/a%2520b"


def test_unmatched_path_goes_to_the_catch_all_proxy_resource() -> None:
    # Given no template matching the path / When the event is built
    event = build_rest_event("GET", "/courses/9/students", route_templates=TEMPLATES)

    # Then it is the {proxy+} resource with the path, minus its leading slash, as the proxy parameter
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/{proxy+}"
    assert event["pathParameters"] == {"proxy": "courses/9/students"}


def test_repeated_keys_keep_the_last_value_in_single_value_maps() -> None:
    # Given a repeated query key and a repeated header / When the event is built
    event = build_rest_event(
        "GET", "/students", query=[("tag", "a"), ("tag", "b"), ("empty", "")], headers=[("X-Tag", "1"), ("X-Tag", "2")]
    )

    # Then the single-value maps hold the last value and the multi-value maps hold all, in order
    assert event["queryStringParameters"] == {"tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "empty": [""]}
    assert event["headers"] == {"X-Tag": "2"}
    assert event["multiValueHeaders"] == {"X-Tag": ["1", "2"]}


def test_absent_query_and_body_are_null() -> None:
    # Given a request with no query string and no body / When the event is built
    event = build_rest_event("GET", "/health", route_templates=TEMPLATES)

    # Then API Gateway's nulls are there
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("body", "content_type", "expected_body", "expected_base64"),
    [
        (b'{"first_name":"Ad\xc3\xa1"}', "application/json", '{"first_name":"Adá"}', False),
        (b"name=Ada", "text/plain; charset=utf-8", "name=Ada", False),
        (b"<a/>", "application/problem+xml", "<a/>", False),
        (b"\xff\xfe", "application/json", "//4=", True),
        (b"name=Ada", "application/octet-stream", "bmFtZT1BZGE=", True),
        (b"name=Ada", None, "bmFtZT1BZGE=", True),
    ],
)
def test_textual_utf8_bodies_pass_as_is_and_others_as_base64(
    body: bytes, content_type: str | None, expected_body: str, expected_base64: bool
) -> None:
    # Given a body and its content type
    headers = [("Content-Type", content_type)] if content_type else []

    # When the event is built
    event = build_rest_event("POST", "/students", headers=headers, body=body)

    # Then only valid UTF-8 with a textual type is sent as text
    assert (event["body"], event["isBase64Encoded"]) == (expected_body, expected_base64)


# --- Mapping responses -----------------------------------------------------------------------------------------


def test_response_headers_merge_with_multi_value_headers_winning_without_duplicates() -> None:
    # Given a proxy response with a header in both maps and a repeated value
    result = {
        "statusCode": 200,
        "headers": {"Content-Type": "text/plain", "Cache-Control": "no-store"},
        "multiValueHeaders": {"content-type": ["application/json"], "Set-Cookie": ["a=1", "a=1", "b=2"]},
        "body": "{}",
        "isBase64Encoded": False,
    }

    # When it is mapped to HTTP
    status, headers, body = lambda_response_to_http(result)

    # Then the multi-value entry replaces the single one and repeats are dropped
    assert status == 200
    assert sorted(headers) == [
        ("Cache-Control", "no-store"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
        ("content-type", "application/json"),
    ]
    assert body == b"{}"


def test_base64_response_body_is_decoded() -> None:
    # Given a binary body sent base64-encoded / When it is mapped to HTTP
    _, _, body = lambda_response_to_http(
        {"statusCode": 200, "body": base64.b64encode(b"\x89PNG\x00").decode(), "isBase64Encoded": True}
    )

    # Then the client gets the raw bytes
    assert body == b"\x89PNG\x00"


@pytest.mark.parametrize(
    "result",
    [
        None,
        {"body": "no status"},
        {"statusCode": "200"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "cookies": ["a=1"]},  # a payload v2 field, which REST APIs reject
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
    ],
)
def test_malformed_proxy_response_is_rejected(result: Any) -> None:
    # Given a response API Gateway calls malformed / When it is mapped / Then it raises, for the gateway's 502
    with pytest.raises(ValueError):
        lambda_response_to_http(result)


# --- Invoking the handler ----------------------------------------------------------------------------------------


def test_remaining_time_counts_down_from_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a context with a 3 s timeout on a controllable clock
    clock = iter([100.0, 100.5, 104.0])
    monkeypatch.setattr(gateway_module, "monotonic", lambda: next(clock))
    context = LambdaContext("students-api", timeout_s=3, memory_mb=256, region="eu-west-1")

    # When time passes / Then the remaining time shrinks and stops at zero
    assert context.get_remaining_time_in_millis() == 2500
    assert context.get_remaining_time_in_millis() == 0
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:students-api"
    assert (context.memory_limit_in_mb, context.function_version) == (256, "$LATEST")
    assert context.log_group_name == "/aws/lambda/students-api"


def test_invoke_sets_the_lambda_runtime_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given no region configured
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    seen: dict[str, Any] = {}

    def handler(event: dict, context: LambdaContext) -> dict:
        seen.update(environment=dict(os.environ), event=event, context=context)
        return {"statusCode": 204}

    # When the handler is invoked
    invoke(handler, build_rest_event("GET", "/health"), function_name="students-api", memory_mb=256)

    # Then it sees what the Lambda runtime sets, and the trace id in both the environment and the event
    environment = seen["environment"]
    assert environment["LAMBDA_TASK_ROOT"] == str(Path(gateway_module.__file__).resolve().parents[1])
    assert environment["AWS_LAMBDA_FUNCTION_NAME"] == "students-api"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environment["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "us-east-1"
    assert environment["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/students-api"
    trace_id = environment["_X_AMZN_TRACE_ID"]
    assert TRACE_ID_PATTERN.fullmatch(trace_id)
    assert seen["event"]["headers"]["X-Amzn-Trace-Id"] == trace_id
    assert seen["event"]["multiValueHeaders"]["X-Amzn-Trace-Id"] == [trace_id]
    assert seen["context"].memory_limit_in_mb == 256


def test_invoke_keeps_a_region_that_is_already_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a configured region
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)

    # When a handler is invoked
    arn = invoke(
        lambda event, context: {"statusCode": 200, "body": context.invoked_function_arn},
        build_rest_event("GET", "/health"),
        function_name="students-api",
    )["body"]

    # Then the runtime variables and the function ARN use it
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert arn.startswith("arn:aws:lambda:eu-west-1:")


# --- Through a real server ---------------------------------------------------------------------------------------


def test_round_trip_through_the_gateway(start_gateway: Callable[..., LocalGateway]) -> None:
    # Given a gateway in front of a handler that echoes its event
    gateway = start_gateway(echo_handler, route_templates=TEMPLATES)

    # When a JSON POST with repeated query keys is sent
    status, headers, body = http_request(
        url_of(gateway, "/students/42?tag=a&tag=b&empty="),
        method="POST",
        body=b'{"first_name": "Ada"}',
        headers={"Content-Type": "application/json", "X-Amzn-Trace-Id": "garbage"},
    )

    # Then status, single and multi-value headers and the JSON body come back, from the event API Gateway would send
    assert status == 201
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Single"] == "one"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert int(headers["Content-Length"]) == len(body)
    reply = json.loads(body)
    event = reply["event"]
    assert (event["httpMethod"], event["path"], event["resource"]) == ("POST", "/students/42", "/students/{student_id}")
    assert event["pathParameters"] == {"student_id": "42"}
    assert event["queryStringParameters"] == {"tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "empty": [""]}
    assert (event["body"], event["isBase64Encoded"]) == ('{"first_name": "Ada"}', False)
    assert event["requestContext"]["path"] == "/local/students/42"
    assert event["requestContext"]["requestId"] == headers["x-amzn-RequestId"]
    assert TRACE_ID_PATTERN.fullmatch(event["headers"]["X-Amzn-Trace-Id"])
    assert reply["function_name"] == "students-api"
    assert 0 < reply["remaining_ms"] <= 29_000


def test_binary_bodies_cross_the_gateway_base64_encoded(start_gateway: Callable[..., LocalGateway]) -> None:
    # Given a handler that returns the request body, base64-encoded, as an image
    def handler(event: dict, context: LambdaContext) -> dict:
        assert event["isBase64Encoded"] is True
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": event["body"],
            "isBase64Encoded": True,
        }

    gateway = start_gateway(handler)
    payload = b"\x89PNG\r\n\x1a\n\x00\xff"

    # When binary bytes are uploaded
    status, headers, body = http_request(
        url_of(gateway, "/avatar"), method="PUT", body=payload, headers={"Content-Type": "image/png"}
    )

    # Then the client receives the same raw bytes
    assert (status, headers["Content-Type"], body) == (200, "image/png", payload)


def test_powertools_resolver_behind_the_gateway(start_gateway: Callable[..., LocalGateway]) -> None:
    # Given a Powertools REST resolver with a parameter route, a literal route and a binary route
    app = APIGatewayRestResolver()

    @app.get("/students/<student_id>")
    def get_student(student_id: str) -> dict:
        event = app.current_event
        return {"student_id": student_id, "resource": event.resource, "pathParameters": event.path_parameters}

    @app.get("/students/count")
    def count_students() -> dict:
        return {"resource": app.current_event.resource}

    @app.post("/students")
    def create_student() -> tuple[dict, int]:
        return app.current_event.json_body, 201

    @app.get("/students/<student_id>/photo")
    def get_photo(student_id: str) -> Response:
        return Response(status_code=200, content_type="image/png", body=b"\x89PNG\x00")

    gateway = start_gateway(app.resolve, route_templates=(*TEMPLATES, "/students/{student_id}/photo"))

    # When each route is called
    student = http_request(url_of(gateway, "/students/a%20b"))
    count = http_request(url_of(gateway, "/students/count"))
    created = http_request(
        url_of(gateway, "/students"),
        method="POST",
        body=b'{"first_name": "Ada"}',
        headers={"Content-Type": "application/json"},
    )
    photo = http_request(url_of(gateway, "/students/1/photo"))

    # Then the resolver routes on the event the gateway built and its responses map back to HTTP
    assert student[0] == 200
    assert student[1]["Content-Type"] == "application/json"
    assert json.loads(student[2]) == {
        "student_id": "a%20b",  # Powertools routes on the raw path; the pathParameters value is decoded
        "resource": "/students/{student_id}",
        "pathParameters": {"student_id": "a b"},
    }
    assert (count[0], json.loads(count[2])) == (200, {"resource": "/students/count"})
    assert (created[0], json.loads(created[2])) == (201, {"first_name": "Ada"})
    assert (photo[0], photo[1]["Content-Type"], photo[2]) == (200, "image/png", b"\x89PNG\x00")


def test_oversized_body_gets_413_without_invoking_the_handler(start_gateway: Callable[..., LocalGateway]) -> None:
    # Given a gateway with a 16-byte limit
    calls: list[dict] = []
    gateway = start_gateway(lambda event, context: calls.append(event) or {"statusCode": 200}, max_body_bytes=16)

    # When a 17-byte body is posted
    status, headers, body = http_request(
        url_of(gateway, "/students"), method="POST", body=b"x" * 17, headers={"Content-Type": "text/plain"}
    )

    # Then API Gateway's 413 comes back, as the template's REQUEST_TOO_LARGE response says, and the handler never runs
    expected_status, expected_headers, expected_body = gateway_response("REQUEST_TOO_LARGE")
    assert (status, body) == (expected_status, expected_body) and status == 413
    assert headers["Content-Type"] == expected_headers["Content-Type"]
    assert headers["x-amzn-RequestId"]
    assert calls == []


def raising_handler(event: dict, context: LambdaContext) -> dict:
    raise RuntimeError("database is down")


def status_less_handler(event: dict, context: LambdaContext) -> dict:
    return {"body": "forgot the status"}


@pytest.mark.parametrize(
    ("handler", "logged"),
    [
        (raising_handler, ("Traceback", "RuntimeError: database is down")),
        (status_less_handler, ("Malformed Lambda proxy response", "statusCode")),
    ],
)
def test_failing_or_malformed_handler_gets_502_and_a_logged_reason(
    start_gateway: Callable[..., LocalGateway], handler: Callable[[dict, Any], dict], logged: tuple[str, str]
) -> None:
    # Given a gateway whose handler fails, logging to a list
    log: list[str] = []
    gateway = start_gateway(handler, log=log.append)

    # When it is called
    status, _, body = http_request(url_of(gateway, "/students"))

    # Then API Gateway's 502 comes back (DEFAULT_5XX, which the template leaves as API Gateway's) and only the
    # reason is logged: the traceback of the error, or what is malformed in the response
    assert "DEFAULT_5XX" not in gateway_module.GATEWAY_RESPONSES
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    assert len(log) == 1
    assert all(part in log[0] for part in logged)


def test_trace_id_is_fresh_per_invocation(start_gateway: Callable[..., LocalGateway]) -> None:
    # Given a handler that reports the trace id it sees
    def handler(event: dict, context: LambdaContext) -> dict:
        seen = {"environment": os.environ["_X_AMZN_TRACE_ID"], "header": event["headers"]["X-Amzn-Trace-Id"]}
        return {"statusCode": 200, "body": json.dumps(seen)}

    gateway = start_gateway(handler)

    # When it is called twice without a trace header
    first, second = (json.loads(http_request(url_of(gateway, "/health"))[2]) for _ in range(2))

    # Then each invocation has its own sampled trace, the same in the environment and the event
    for seen in (first, second):
        assert seen["environment"] == seen["header"]
        assert TRACE_ID_PATTERN.fullmatch(seen["environment"])
    assert first["environment"] != second["environment"]


def test_incoming_trace_root_and_sampling_decision_are_kept(start_gateway: Callable[..., LocalGateway]) -> None:
    # Given a handler that reports the trace id it sees
    gateway = start_gateway(lambda event, context: {"statusCode": 200, "body": os.environ["_X_AMZN_TRACE_ID"]})
    incoming = f"Root={INCOMING_ROOT};Parent=53995c3f42cd8ad8;Sampled=0"

    # When the client sends a trace header
    _, _, body = http_request(url_of(gateway, "/health"), headers={"X-Amzn-Trace-Id": incoming})

    # Then the Root and Sampled flag are kept under a new Parent
    assert re.fullmatch(rf"Root={INCOMING_ROOT};Parent=[0-9a-f]{{16}};Sampled=0", body.decode())
    assert "53995c3f42cd8ad8" not in body.decode()


def test_the_sampling_decision_is_the_gateways_unless_the_client_brought_one(
    start_gateway: Callable[..., LocalGateway],
) -> None:
    # Given a gateway whose sampling traces writes only, as the rules make it do for a probe and a write
    decisions: list[tuple[str, str]] = []

    def writes_only(method: str, path: str) -> bool:
        decisions.append((method, path))
        return method != "GET"

    gateway = start_gateway(
        lambda event, context: {"statusCode": 200, "body": os.environ["_X_AMZN_TRACE_ID"]}, trace_decision=writes_only
    )

    # When a read and a write arrive without a decision, and a read arrives with the client's
    read = http_request(url_of(gateway, "/health/ready"))[2].decode()
    write = http_request(url_of(gateway, "/students"), method="POST")[2].decode()
    decided = http_request(
        url_of(gateway, "/health/ready"), headers={"X-Amzn-Trace-Id": f"Root={INCOMING_ROOT};Sampled=1"}
    )[2].decode()

    # Then the gateway decided the first two, by method and path, and kept the client's decision
    assert read.endswith(";Sampled=0") and write.endswith(";Sampled=1") and decided.endswith(";Sampled=1")
    assert decisions == [("GET", "/health/ready"), ("POST", "/students")]


def test_connection_is_kept_alive_and_head_has_no_body(start_gateway: Callable[..., LocalGateway]) -> None:
    # Given a gateway in front of a handler with a body
    gateway = start_gateway(lambda event, context: {"statusCode": 200, "body": "hello"})
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
    try:
        # When a GET then a HEAD are sent on one connection
        connection.request("GET", "/health")
        get_response = connection.getresponse()
        get_body = get_response.read()
        first_socket = connection.sock
        connection.request("HEAD", "/health")
        head_response = connection.getresponse()
        head_body = head_response.read()

        # Then the socket is reused, and HEAD reports the length without sending the body
        assert connection.sock is first_socket
        assert (get_response.status, get_body) == (200, b"hello")
        assert (head_response.status, head_response.headers["Content-Length"], head_body) == (200, "5", b"")
    finally:
        connection.close()


def test_gateway_refuses_to_listen_beyond_loopback() -> None:
    # Given a non-loopback address / When a gateway is created / Then it refuses
    with pytest.raises(ValueError, match="loopback"):
        LocalGateway(InProcessFunction(echo_handler, "students-api"), host="0.0.0.0", port=0)
