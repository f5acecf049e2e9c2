"""The local Lambda service (local_stack/lambda_runtime.py): execution environments running handlers under AWS's
Runtime Interface Client, with Lambda's concurrency, timeouts, platform lines and AWS/Lambda metrics, and API
Gateway's answers and AWS/ApiGateway metrics in front of it (local_stack/gateway.py)."""

from __future__ import annotations

import io
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from infra.render import API_FUNCTION, function_spec, gateway_response
from local_stack.cloudwatch import AwsMetrics, LineStream
from local_stack.gateway import ApiGatewayMetrics, LocalGateway, Outcome, build_rest_event, new_trace_header
from local_stack.lambda_door import canary_weight
from local_stack.lambda_runtime import Alias, FunctionVersion, LocalLambda
from tests.doors import token_for
from tests.observability.stack import DoorProcess, UdpCollector

HANDLERS = "tests.local_stack.runtime_handlers"
SPEC = replace(function_spec(API_FUNCTION), handler=f"{HANDLERS}.report")
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))
READY_DEADLINE_S = 30


class Capture:
    """What the service and its environments wrote on their stream, as JSON lines."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.stream = LineStream(self.buffer)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines() if line.startswith("{")]

    def platform(self, event_type: str) -> list[dict]:
        return [line["record"] for line in self.lines() if line.get("type") == event_type]

    def metric(self, namespace: str, name: str) -> list[tuple[float, dict[str, str]]]:
        """(value, dimensions) of every datapoint of the metric."""
        found = []
        for line in self.lines():
            for directive in line.get("_aws", {}).get("CloudWatchMetrics", []):
                if directive["Namespace"] == namespace and name in [metric["Name"] for metric in directive["Metrics"]]:
                    names = {dimension for dimension_set in directive["Dimensions"] for dimension in dimension_set}
                    found.append((line[name], {dimension: line[dimension] for dimension in names}))
        return found


@pytest.fixture
def capture() -> Capture:
    return Capture()


@pytest.fixture
def start_function(capture: Capture, request: pytest.FixtureRequest) -> Callable[..., LocalLambda]:
    """The function with the handler named, its output captured; closed (its environments stopped) after the test."""

    def start(handler: str = "report", **options: Any) -> LocalLambda:
        function = LocalLambda(
            replace(SPEC, handler=f"{HANDLERS}.{handler}"), stream=capture.stream, **{"concurrency": 4, **options}
        )
        request.addfinalizer(function.close)
        return function

    return start


@pytest.fixture
def start_gateway(capture: Capture, serve_gateway: Callable[..., LocalGateway]) -> Callable[..., LocalGateway]:
    """A gateway in front of the function, publishing API Gateway's metrics to the capture."""

    def start(function: LocalLambda, **options: Any) -> LocalGateway:
        return serve_gateway(
            function,
            stage="v1",
            metrics=ApiGatewayMetrics(AwsMetrics(capture.stream), "student-records-api", "v1"),
            **options,
        )

    return start


def call(function: LocalLambda, sleep_s: float = 0) -> Any:
    trace_header = new_trace_header(None)
    event = build_rest_event(
        "GET",
        "/health",
        query=[("sleep", str(sleep_s))] if sleep_s else (),
        headers=[("X-Amzn-Trace-Id", trace_header)],
    )
    return function.invoke(event, trace_header)


def seen(invocation: Any) -> dict:
    assert invocation.outcome is Outcome.SUCCESS, invocation
    return json.loads(invocation.payload["body"])


def http_get(gateway: LocalGateway, path: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with HTTP.open(f"http://127.0.0.1:{gateway.port}{path}", timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)  # polling the condition itself


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ---- environments -----------------------------------------------------------------------------------------------


def test_an_environment_initializes_once_and_is_reused_while_warm(start_function, capture):
    # Given the function with no environment yet
    function = start_function()
    # When it is invoked twice in a row
    first, second = seen(call(function)), seen(call(function))
    # Then one process served both, initialized once (a cold start, then a warm invocation)
    assert first["pid"] == second["pid"] and (first["invocations"], second["invocations"]) == (1, 2)
    assert first["initialized_at"] == second["initialized_at"]
    assert function.environments == 1
    # And Lambda's platform lines say so: one initStart, a start and a report each, Init Duration on the first only
    [init] = capture.platform("platform.initStart")
    assert (init["initializationType"], init["phase"], init["functionName"], init["functionVersion"]) == (
        "on-demand",
        "init",
        SPEC.name,
        "$LATEST",
    )
    starts, reports = capture.platform("platform.start"), capture.platform("platform.report")
    assert (
        [record["requestId"] for record in starts]
        == [record["requestId"] for record in reports]
        == [first["request_id"], second["request_id"]]
    )
    assert reports[0]["metrics"]["initDurationMs"] > 0 and "initDurationMs" not in reports[1]["metrics"]
    for report in reports:
        metrics = report["metrics"]
        assert report["status"] == "success"
        assert metrics["billedDurationMs"] == -(-metrics["durationMs"] // 1) and metrics["memorySizeMB"] == 512
        assert 0 < metrics["maxMemoryUsedMB"] < 512
    # And what each invocation printed comes before its report, as in Lambda's log
    lines = capture.lines()
    for request_id in (first["request_id"], second["request_id"]):
        [printed] = [at for at, line in enumerate(lines) if line.get("request_id") == request_id]
        [reported] = [
            at
            for at, line in enumerate(lines)
            if line.get("type") == "platform.report" and line["record"]["requestId"] == request_id
        ]
        assert printed < reported


def test_the_handler_runs_under_awslambdaric_with_lambdas_environment_and_context(start_function):
    # Given the function; When invoked
    report = seen(call(start_function()))
    # Then the context is the runtime interface client's, from the Runtime API's headers
    assert report["function_name"] == SPEC.name
    assert report["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{SPEC.name}"
    assert 0 < report["remaining_ms"] <= SPEC.timeout_s * 1000
    # And the trace header reached the handler's environment (set by awslambdaric) as it reached the event
    assert report["trace_variable"] == report["trace_header"] and report["trace_variable"].startswith("Root=1-")
    # And the variables are those Lambda sets, the log stream the environment's own
    variables = report["variables"]
    assert variables["AWS_LAMBDA_FUNCTION_NAME"] == SPEC.name and variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert variables["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{SPEC.name}"
    assert variables["AWS_LAMBDA_LOG_STREAM_NAME"] == report["log_stream_name"]
    assert variables["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert (variables["_HANDLER"], variables["AWS_LAMBDA_LOG_FORMAT"]) == (f"{HANDLERS}.report", "JSON")


def test_sixteen_concurrent_invocations_run_in_sixteen_environments(start_function, capture):
    # Given a concurrency of 16, When 16 invocations that each take half a second arrive together
    function = start_function(concurrency=16)
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(call(function, sleep_s=0.5))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then each ran, in an environment of its own
    assert len({seen(result)["pid"] for result in results}) == 16
    # And ConcurrentExecutions reached 16, as did the environments
    concurrency = capture.metric("AWS/Lambda", "ConcurrentExecutions")
    assert max(value for value, _ in concurrency) == 16
    assert {dimensions["FunctionName"] for _, dimensions in concurrency} == {SPEC.name}
    assert function.environments == 16


def test_an_idle_environment_is_stopped_after_the_idle_timeout(start_function):
    # Given a function whose environments stay warm for half a second
    function = start_function(idle_timeout_s=0.5)
    pid = seen(call(function))["pid"]
    # When it stays idle; Then its environment is stopped, its process gone
    wait_until(lambda: function.environments == 0)
    wait_until(lambda: not process_exists(pid))
    # And the next invocation starts a new one
    assert seen(call(function))["pid"] != pid


# ---- limits and failures ---------------------------------------------------------------------------------------


def test_beyond_the_concurrency_limit_an_invocation_is_throttled(start_function, start_gateway, capture):
    # Given a function limited to one environment, busy with a slow invocation
    function = start_function(concurrency=1)
    gateway = start_gateway(function)
    slow = threading.Thread(target=call, args=(function, 2.0))
    slow.start()
    wait_until(lambda: capture.platform("platform.start"))
    # When another request arrives through the gateway
    status, headers, body = http_get(gateway, "/students")
    slow.join()
    # Then API Gateway answers as the template's INTEGRATION_FAILURE response says (a Lambda 429), not the function
    expected_status, expected_headers, expected_body = gateway_response("INTEGRATION_FAILURE")
    assert (status, body) == (expected_status, expected_body) == (503, expected_body)
    assert headers["Content-Type"] == expected_headers["Content-Type"] == "application/problem+json"
    assert headers["Retry-After"] == "1" and headers["x-amzn-RequestId"]
    # And Lambda counted a throttle, neither an invocation nor an error; API Gateway a 5xx
    assert capture.metric("AWS/Lambda", "Throttles") == [(1, {"FunctionName": SPEC.name})]
    assert len(capture.metric("AWS/Lambda", "Invocations")) == 1
    wait_until(lambda: capture.metric("AWS/ApiGateway", "5XXError"))  # published once the answer is sent
    assert [value for value, _ in capture.metric("AWS/ApiGateway", "5XXError")] == [1]


def test_past_its_timeout_the_environment_is_killed_and_replaced(start_function, start_gateway, capture):
    # Given a function with a one-second timeout, warm
    function = start_function(timeout_s=1)
    gateway = start_gateway(function)
    pid = seen(call(function))["pid"]
    # When an invocation runs longer
    status, _, body = http_get(gateway, "/health?sleep=5")
    # Then API Gateway answers a function error (502, the default body), its process is killed
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    wait_until(lambda: not process_exists(pid))
    # And Lambda reported the timeout, as a failed invocation lasting the timeout
    report = capture.platform("platform.report")[-1]
    assert (report["status"], report["errorType"]) == ("timeout", "Sandbox.Timedout")
    assert 1000 <= report["metrics"]["durationMs"] < 2000
    assert [value for value, _ in capture.metric("AWS/Lambda", "Errors")] == [0, 1]
    # And the next invocation starts a new environment: a cold start
    after = seen(call(function))
    assert after["pid"] != pid and after["invocations"] == 1
    assert "initDurationMs" in capture.platform("platform.report")[-1]["metrics"]


def test_past_the_integration_timeout_the_gateway_answers_504_while_the_function_runs_on(
    start_function, start_gateway, capture
):
    # Given an integration timeout shorter than the function's run
    function = start_function(timeout_s=5)
    gateway = start_gateway(function, integration_timeout_s=0.5)
    # When a request takes longer
    status, _, body = http_get(gateway, "/health?sleep=1.5")
    # Then API Gateway answers its INTEGRATION_TIMEOUT default
    assert (status, json.loads(body)) == (504, {"message": "Endpoint request timed out"})
    # And the invocation still ends, successfully, holding its environment until then
    wait_until(lambda: capture.platform("platform.report") and capture.metric("AWS/ApiGateway", "5XXError"))
    assert capture.platform("platform.report")[0]["status"] == "success"
    assert [value for value, _ in capture.metric("AWS/ApiGateway", "5XXError")] == [1]
    assert next(value for value, _ in capture.metric("AWS/ApiGateway", "IntegrationLatency")) >= 500


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [("fail", "RuntimeError"), ("crash", "Runtime.ExitError"), ("no_such_handler", "Runtime.HandlerNotFound")],
)
def test_a_function_error_is_a_502_and_an_error_of_lambdas(start_function, start_gateway, capture, handler, error_type):
    # Given a function that raises, whose process exits, or whose handler is missing
    gateway = start_gateway(start_function(handler))
    # When it is called
    status, _, body = http_get(gateway, "/health")
    # Then API Gateway answers 502 with its default body, and Lambda counts an error of that type
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    assert capture.metric("AWS/Lambda", "Errors") == [(1, {"FunctionName": SPEC.name})]
    [report] = capture.platform("platform.report")
    assert (report["status"], report["errorType"]) == ("error", error_type)


# ---- versions and the alias ------------------------------------------------------------------------------------

LIVE = f"{SPEC.name}:live"


def dimension_sets(capture: Capture, name: str) -> list[list[dict[str, str]]]:
    """For each datapoint of the AWS/Lambda metric, its dimension sets with their values."""
    return [
        [{dimension: line[dimension] for dimension in dimension_set} for dimension_set in directive["Dimensions"]]
        for line in capture.lines()
        for directive in line.get("_aws", {}).get("CloudWatchMetrics", [])
        if directive["Namespace"] == "AWS/Lambda" and name in [metric["Name"] for metric in directive["Metrics"]]
    ]


def test_an_invocation_through_the_alias_runs_its_version_and_publishes_the_alias_dimensions(start_function, capture):
    # Given the function with its alias live on version 1
    function = start_function(alias=Alias("live", FunctionVersion("1")))
    # When it is invoked
    report = seen(call(function))
    # Then version 1 ran, invoked by the alias's ARN, its log stream and Lambda's lines naming the version
    assert report["variables"]["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
    assert report["invoked_function_arn"] == f"arn:aws:lambda:us-east-1:123456789012:function:{LIVE}"
    assert "/[1]" in report["log_stream_name"]
    assert capture.platform("platform.initStart")[0]["functionVersion"] == "1"
    assert capture.platform("platform.start")[0]["version"] == "1"
    # And Invocations, Errors and Duration are published as Lambda publishes an alias's: by function, by the alias
    # (Resource), and by the alias and the version that ran (ExecutedVersion)
    by_function, by_alias = {"FunctionName": SPEC.name}, {"FunctionName": SPEC.name, "Resource": LIVE}
    for name in ("Invocations", "Errors", "Duration"):
        assert dimension_sets(capture, name) == [[by_function, by_alias, {**by_alias, "ExecutedVersion": "1"}]]
    # And ConcurrentExecutions stays the function's
    assert dimension_sets(capture, "ConcurrentExecutions") == [[by_function]]


def test_a_throttled_invocation_through_the_alias_has_no_executed_version(start_function, capture):
    # Given the alias's function limited to one environment, busy
    function = start_function(concurrency=1, alias=Alias("live", FunctionVersion("1")))
    slow = threading.Thread(target=call, args=(function, 2.0))
    slow.start()
    wait_until(lambda: capture.platform("platform.start"))
    # When another invocation comes through the alias
    outcome = call(function).outcome
    slow.join()
    # Then it is throttled, counted by function and by alias: no version ran it
    assert outcome is Outcome.THROTTLED
    assert dimension_sets(capture, "Throttles") == [
        [{"FunctionName": SPEC.name}, {"FunctionName": SPEC.name, "Resource": LIVE}]
    ]


def test_a_weighted_alias_routes_its_share_to_the_new_version_in_environments_of_its_own(start_function, capture):
    # Given the alias on version 1, routing a quarter of invocations to version 2, published with a setting of its own
    new = FunctionVersion("2", {"VERSION_SETTING": "new"})
    function = start_function(
        alias=Alias("live", FunctionVersion("1"), new, weight=0.25), draw=random.Random(15), concurrency=2
    )
    # When it is invoked 40 times in a row
    reports = [seen(call(function)) for _ in range(40)]
    # Then the draws below the weight ran version 2, with its setting, the others version 1, without it
    draws = random.Random(15)
    expected = ["2" if draws.random() < 0.25 else "1" for _ in range(40)]
    assert [report["variables"]["AWS_LAMBDA_FUNCTION_VERSION"] for report in reports] == expected
    assert 0 < expected.count("2") < 20
    assert {
        report["variables"]["VERSION_SETTING"]
        for report in reports
        if report["variables"]["AWS_LAMBDA_FUNCTION_VERSION"] == "2"
    } == {"new"}
    assert {
        report["variables"]["VERSION_SETTING"]
        for report in reports
        if report["variables"]["AWS_LAMBDA_FUNCTION_VERSION"] == "1"
    } == {None}
    # And each version's environments served its own invocations only
    pids = {
        version: {report["pid"] for report, ran in zip(reports, expected, strict=True) if ran == version}
        for version in "12"
    }
    assert pids["1"] and pids["2"] and not pids["1"] & pids["2"]
    # And each invocation is counted under the version that ran it
    executed = [sets[2]["ExecutedVersion"] for sets in dimension_sets(capture, "Invocations")]
    assert executed == expected


def test_shifting_the_alias_rolls_back_or_completes_the_deployment(start_function):
    # Given a canary: the alias routing half of the invocations to version 2, the function limited to one environment
    function = start_function(
        alias=Alias("live", FunctionVersion("1"), FunctionVersion("2"), weight=0.5),
        draw=random.Random(3),
        concurrency=1,
    )
    # When CodeDeploy rolls it back, Then every invocation runs version 1
    function.shift(0)
    assert {seen(call(function))["variables"]["AWS_LAMBDA_FUNCTION_VERSION"] for _ in range(10)} == {"1"}
    # When it completes instead, Then every invocation runs version 2, whose environment replaces version 1's idle one
    # (only busy environments hold concurrency)
    function.shift(1)
    assert {seen(call(function))["variables"]["AWS_LAMBDA_FUNCTION_VERSION"] for _ in range(10)} == {"2"}
    assert function.environments == 1


@pytest.mark.parametrize(
    ("strategy", "weight"),
    [
        ("Canary10Percent5Minutes", 0.1),
        ("Canary10Percent30Minutes", 0.1),
        ("Linear10PercentEvery1Minute", 0.1),
        ("AllAtOnce", 1.0),
    ],
)
def test_a_canary_takes_the_first_step_of_the_deployment_strategy(strategy, weight):
    # Given the template's deployment strategy; Then the door's canary takes its first step's share
    assert canary_weight(strategy) == weight


# ---- API Gateway's metrics ----------------------------------------------------------------------------------------


def test_the_gateway_publishes_api_gateways_metrics_per_request(start_function, start_gateway, capture):
    # Given the gateway in front of the function, with a 16-byte body limit
    gateway = start_gateway(start_function(), max_body_bytes=16, route_templates=("/health", "/students/{student_id}"))
    # When a request succeeds, and another is refused for its size before reaching the function
    assert http_get(gateway, "/students/7")[0] == 200
    request = urllib.request.Request(f"http://127.0.0.1:{gateway.port}/health", data=b"x" * 17, method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        HTTP.open(request, timeout=30)
    refused.value.close()
    wait_until(lambda: len(capture.metric("AWS/ApiGateway", "Count")) == 2)  # published once each answer is sent
    # Then each is counted under the API and stage, and under its resource and method
    counts = capture.metric("AWS/ApiGateway", "Count")
    assert [(value, dimensions["Resource"], dimensions["Method"]) for value, dimensions in counts] == [
        (1, "/students/{student_id}", "GET"),
        (1, "/health", "POST"),
    ]
    assert all(
        (dimensions["ApiName"], dimensions["Stage"]) == ("student-records-api", "v1") for _, dimensions in counts
    )
    assert [value for value, _ in capture.metric("AWS/ApiGateway", "4XXError")] == [0, 1]
    assert [value for value, _ in capture.metric("AWS/ApiGateway", "5XXError")] == [0, 0]
    # And Latency covers both; IntegrationLatency only the one that reached the function, within its Latency
    latency = [value for value, _ in capture.metric("AWS/ApiGateway", "Latency")]
    [integration] = [value for value, _ in capture.metric("AWS/ApiGateway", "IntegrationLatency")]
    assert len(latency) == 2 and 0 < integration <= latency[0]


# ---- the Lambda door, as `make run` starts it --------------------------------------------------------------------


def test_sixteen_concurrent_requests_to_the_lambda_door_run_in_several_environments(database_conninfo, tmp_path):
    # Given the Lambda door (the template's function, its default concurrency), cold
    daemon = UdpCollector()
    door = DoorProcess("lambda", database_conninfo, daemon.port, tmp_path)
    barrier = threading.Barrier(16)
    statuses: list[int] = []

    def request() -> None:
        barrier.wait()
        call = urllib.request.Request(
            f"{door.base_url}/students/count", headers={"Authorization": f"Bearer {token_for('admin')}"}
        )
        with HTTP.open(call, timeout=60) as response:  # 16 cold starts share 2 cores: seconds each
            statuses.append(response.status)

    # When sixteen requests arrive at once
    try:
        threads = [threading.Thread(target=request) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        door.stop()
        daemon.close()
    # Then each is answered, by several environments at once: several cold starts, ConcurrentExecutions above one
    assert statuses == [200] * 16
    lines = door.output_lines()
    initialized = [line for line in lines if line.get("type") == "platform.initStart"]
    concurrency = [line["ConcurrentExecutions"] for line in lines if "ConcurrentExecutions" in line]
    assert len(initialized) > 1 and max(concurrency) == len(initialized)
    assert len({line["record"]["instanceId"] for line in initialized}) == len(initialized)
    # And the gateway invoked the alias live, as the template's integration does: version 1 ran each
    invocations = [line for line in lines if "Invocations" in line]
    assert len(invocations) >= 16
    assert {(line["Resource"], line["ExecutedVersion"]) for line in invocations} == {(f"{SPEC.name}:live", "1")}
