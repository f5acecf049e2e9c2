"""The saved Logs Insights queries (queries/): deployed as QueryDefinitions on the log groups they name, linked from
the runbooks, and each run over a real capture: both doors, each in its own server process with its stdout captured,
after requests that produce the rows the query looks for (successes, 401s, 403s, 503s while PostgreSQL is stopped,
429s from the Flask door's rate limit), Lambda's platform lines among them (the Lambda door's local runtime writes
them as Lambda does). The lines only AWS writes (API Gateway's access log, the web ACL's log) cannot be captured here:
they are added shaped as AWS documents them, and said so."""

import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra import dashboards
from infra.logs_insights import QUERIES_DIR, QueryResult, load_saved_queries, read_lines
from infra.render import load_template
from tests.doors import token_for
from tests.infra.conftest import EC2_DOOR
from tests.infra.stack_view import StackView
from tests.infra.tools import TEMPLATE
from tests.observability.stack import DoorProcess, UdpCollector

SAVED = load_saved_queries()
RUNBOOKS = Path(QUERIES_DIR).parent / "docs" / "runbooks"
FLASK_RATE_LIMIT_PER_MINUTE = 20
RECOVERY_DEADLINE_S = 30.0
DATABASE_UNAVAILABLE = "student_records.errors.DatabaseUnavailable"


# ---- the saved queries in the template and the runbooks -----------------------------------------------------------


@pytest.fixture(scope="module", params=[{}, EC2_DOOR], ids=["defaults", "ec2-door"])
def stack(request, transformed_template, transformed_with_ec2_door) -> StackView:
    return StackView(transformed_with_ec2_door if request.param else transformed_template, request.param)


def test_every_saved_query_is_a_query_definition_of_the_stack_on_the_log_groups_it_names(stack):
    # Given the stack CloudFormation creates (SAM-transformed, conditions evaluated)
    definitions = stack.of_type("AWS::Logs::QueryDefinition")
    log_groups = stack.of_type("AWS::Logs::LogGroup")
    # Then each saved query is one definition, in the stack's folder of saved queries, in Logs Insights QL
    assert len(SAVED) >= 4
    assert {definition["Properties"]["Name"]["Fn::Sub"] for definition in definitions.values()} == {
        f"${{AWS::StackName}}/{name}" for name in SAVED
    }
    for query in SAVED.values():
        properties = definitions[query.logical_id]["Properties"]
        assert properties["QueryLanguage"] == "CWLI"
        assert properties["QueryString"] == query.query_string and len(properties["QueryString"]) <= 10_000
        # And it reads the log groups its file names, each one the stack declares
        assert properties["LogGroupNames"] == [{"Ref": logical_id} for logical_id in query.log_groups]
        assert set(query.log_groups) <= set(log_groups)
        # And its parameters are declared for the console to ask for
        assert properties.get("Parameters", []) == [
            {"Name": parameter.name, "Description": parameter.description} for parameter in query.parameters
        ]


def test_every_saved_query_is_linked_from_a_runbook_with_how_to_run_it_locally():
    # Given the runbooks' text
    text = "\n".join(path.read_text() for path in sorted(RUNBOOKS.glob("*.md")))
    for name in SAVED:
        # Then each saved query is named as the console lists it, and its local run is shown
        assert f"`<stack>/{name}`" in text, name
        assert f"make logs-query NAME={name} " in text, name
    # And every query a runbook names exists
    assert set(re.findall(r"make logs-query NAME=([\w-]+)", text)) <= set(SAVED)
    assert set(re.findall(r"`<stack>/([a-z0-9-]+)`", text)) <= set(SAVED)


def test_the_dashboards_recent_errors_widget_is_the_saved_recent_errors_query():
    # Given the service dashboard's log widget
    body = json.loads(dashboards.load_dashboard(dashboards.DASHBOARDS_DIR / "service-overview.json"))
    [widget] = [widget for widget in body["widgets"] if widget["type"] == "log"]
    sources = re.match(r"^((?:SOURCE '[^']*' \| )+)(.*)$", widget["properties"]["query"], re.DOTALL)
    # Then it reads the saved query's log groups and runs its query
    recent_errors = SAVED["recent-errors"]
    assert re.findall(r"SOURCE '\$\{(\w+)\}'", sources[1]) == recent_errors.log_groups
    assert sources[2] == recent_errors.query.strip()


# ---- the capture -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """A request the test sent, as the door logs it: the route template (a request the Flask door's rate limit
    refused included) and the correlation id the door answered with."""

    door: str
    route: str
    status: int
    correlation_id: str


@dataclass(frozen=True)
class Capture:
    lines: list[str]  # what the doors printed
    records: list[dict]
    sent: list[Sent]

    def run(self, name: str, **values: str) -> list[dict[str, str]]:
        return _rows(SAVED[name].run(self.records, values))


def _rows(result: QueryResult) -> list[dict[str, str]]:
    return [dict(zip(result.columns, row, strict=True)) for row in result.cells()]


def _send(
    sent: list[Sent],
    door: DoorProcess,
    method: str,
    path: str,
    route: str,
    token: str | None = None,
    body: dict | None = None,
) -> tuple[Sent, bytes]:
    headers = {"X-Request-Id": f"saved-queries-{door.door}-{len(sent)}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(door.base_url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, reply_headers, reply = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, reply_headers, reply = error.code, error.headers, error.read()
    record = Sent(door.door, route, status, reply_headers["X-Request-Id"])
    sent.append(record)
    return record, reply


def _drive(doors: dict[str, DoorProcess], server) -> list[Sent]:
    """Successes and refusals on both doors, 503s with PostgreSQL stopped, then the Flask door's rate limit."""
    sent: list[Sent] = []
    registrar = token_for("registrar", subject="saved-queries-registrar")
    student = token_for("student", student_id=1, subject="saved-queries-student")
    for name, door in doors.items():
        assert _send(sent, door, "GET", "/health", "/health")[0].status == 200  # the Lambda door's cold start
        created, reply = _send(
            sent,
            door,
            "POST",
            "/students",
            "/students",
            registrar,
            {"first_name": "Query", "last_name": "Capture", "email": f"saved-queries-{name}@example.org"},
        )
        assert created.status == 201, reply
        student_path = f"/students/{json.loads(reply)['id']}"
        for path, route, token, status in [
            (student_path, "/students/{student_id}", registrar, 200),
            ("/students?limit=5", "/students", registrar, 200),
            ("/students/count", "/students/count", registrar, 200),
            ("/students/count", "/students/count", None, 401),
            (f"{student_path}/audit", "/students/{student_id}/audit", student, 403),
        ]:
            assert _send(sent, door, "GET", path, route, token)[0].status == status, (name, path)
    server.stop()
    try:
        for door in doors.values():
            assert _send(sent, door, "GET", "/students/count", "/students/count", registrar)[0].status == 503
    finally:
        server.start()
    # The Flask door serves again (readiness is exempt from its rate limit), then is sent more than its limit.
    deadline = time.monotonic() + RECOVERY_DEADLINE_S
    while _send(sent, doors["flask"], "GET", "/health/ready", "/health/ready")[0].status != 200:
        assert time.monotonic() < deadline, "the Flask door did not recover"
        time.sleep(0.1)
    for _ in range(2 * FLASK_RATE_LIMIT_PER_MINUTE):  # a fixed window: a new minute may restart the count once
        if _send(sent, doors["flask"], "GET", "/students/count", "/students/count", registrar)[0].status == 429:
            break
    assert any(request.status == 429 for request in sent), "the Flask door's rate limit never answered"
    return sent


@pytest.fixture(scope="module")
def capture(isolated_database, auth_keys) -> Capture:
    server, scratch = isolated_database
    collector = UdpCollector()
    doors: dict[str, DoorProcess] = {}
    try:
        doors["lambda"] = DoorProcess("lambda", server.dsn("student_records"), collector.port, scratch)
        doors["flask"] = DoorProcess(
            "flask",
            server.dsn("student_records"),
            collector.port,
            scratch,
            {"RATE_LIMIT": f"{FLASK_RATE_LIMIT_PER_MINUTE} per minute"},
        )
        sent = _drive(doors, server)
    finally:
        for door in doors.values():
            door.stop()  # the Flask door writes what its writer thread still holds
        collector.close()
    lines = [line for door in doors.values() for line in door.stdout_path.read_text().splitlines()]
    return Capture(lines, read_lines(lines), sent)


# ---- the lines only AWS writes, as AWS documents them --------------------------------------------------------------

AWS_TIME = datetime(2026, 12, 7, 9, 58, 0, tzinfo=UTC)
CLIENT_IP, OTHER_IP = "198.51.100.7", "203.0.113.9"


def _access_log_line(request_id: str, route: str, status: int, ip: str) -> str:
    """API Gateway's access log line for a request, in the stage's own Format (the template's AccessLogSetting),
    as API Gateway fills it: each $context variable replaced, "-" for those without a value."""
    access_format = load_template(TEMPLATE)["Resources"]["Api"]["Properties"]["AccessLogSetting"]["Format"]
    values = {
        "requestId": request_id,
        "extendedRequestId": f"{request_id}-x",
        "identity.sourceIp": ip,
        "requestTime": AWS_TIME.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "httpMethod": "GET",
        "resourcePath": route,
        "path": f"/prod{route}",
        "status": str(status),
        "protocol": "HTTP/1.1",
        "responseLength": "120",
        "responseLatency": "35",
        "xrayTraceId": "1-6b160ac0-0123456789abcdef01234567",
    }
    return re.sub(r"\$context\.([\w.]+)", lambda match: values.get(match[1], "-"), access_format)


def _waf_line(seconds: int, action: str, rule: str, ip: str, uri: str) -> str:
    """A web ACL log line, with the fields of https://docs.aws.amazon.com/waf/latest/developerguide/logging-fields.html
    (epoch-millisecond timestamp; the Authorization header and the query string redacted, as the stack asks)."""
    return json.dumps(
        {
            "timestamp": int((AWS_TIME + timedelta(seconds=seconds)).timestamp() * 1000),
            "formatVersion": 1,
            "webaclId": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/student-records/a1b2c3d4",
            "terminatingRuleId": rule,
            "terminatingRuleType": "MANAGED_RULE_GROUP" if "AWS-" in rule else "RATE_BASED",
            "action": action,
            "terminatingRuleMatchDetails": [],
            "httpSourceName": "APIGW",
            "httpSourceId": "123456789012:abcdef1234:prod",
            "ruleGroupList": [],
            "rateBasedRuleList": [],
            "nonTerminatingMatchingRules": [],
            "httpRequest": {
                "clientIp": ip,
                "country": "NL",
                "headers": [{"name": "Authorization", "value": "REDACTED"}],
                "uri": uri,
                "args": "REDACTED",
                "httpVersion": "HTTP/1.1",
                "httpMethod": "GET",
                "requestId": f"waf-{seconds}",
            },
        }
    )


@pytest.fixture(scope="module")
def access_lines(capture) -> list[tuple[str, str, int, str]]:
    """(request id, route, status, client) of API Gateway's access lines: one per request the Lambda door served,
    and a 401 its Cognito authorizer answered, which never reached the door."""
    lines = [
        (request.correlation_id, request.route, request.status, CLIENT_IP)
        for request in capture.sent
        if request.door == "lambda"
    ]
    return [*lines, ("authorizer-refused-1", "/students", 401, OTHER_IP)]


@pytest.fixture(scope="module")
def capture_in_aws(capture, access_lines) -> Capture:
    """The capture, with the lines AWS adds beside the doors' own."""
    aws_lines = [_access_log_line(*line) for line in access_lines]
    aws_lines += [
        _waf_line(5, "BLOCK", "AWS-AWSManagedRulesSQLiRuleSet", OTHER_IP, "/students"),
        _waf_line(6, "BLOCK", "AWS-AWSManagedRulesSQLiRuleSet", OTHER_IP, "/students/count"),
        _waf_line(7, "BLOCK", "rate-limit-per-ip", CLIENT_IP, "/students"),
        _waf_line(8, "ALLOW", "Default_Action", CLIENT_IP, "/students"),
    ]
    return Capture(capture.lines + aws_lines, capture.records + read_lines(aws_lines), capture.sent)


# ---- each query over the capture -----------------------------------------------------------------------------------


def _request_lines(capture: Capture) -> list[dict]:
    return [record for record in capture.records if record.get("message") == "request"]


def test_request_by_correlation_id_finds_the_request_line_and_its_error_line(capture_in_aws):
    # Given a request each door answered 503 with PostgreSQL stopped
    for failed in [
        request for request in capture_in_aws.sent if request.status == 503 and request.route == "/students/count"
    ]:
        # When the query runs for its correlation id
        rows = capture_in_aws.run("request-by-correlation-id", correlation_id=failed.correlation_id)
        # Then it finds the door's ERROR line and its request line, oldest first, one trace between them
        door_rows = [row for row in rows if row["level"]]  # the access log's lines have no level
        assert [(row["level"], row["message"], row["exception_type"]) for row in door_rows] == [
            ("ERROR", "request failed", DATABASE_UNAVAILABLE),
            ("INFO", "request", ""),
        ]
        assert (door_rows[1]["front_door"], door_rows[1]["route_template"], door_rows[1]["status"]) == (
            failed.door,
            "/students/count",
            "503",
        )
        assert door_rows[0]["trace_id"] == door_rows[1]["trace_id"] != ""
        # And, on the Lambda door, API Gateway's access line for it too (AWS's line: see capture_in_aws)
        access = [row for row in rows if row not in door_rows]
        assert [(row["route_template"], row["status"], row["ms"]) for row in access] == (
            [("/students/count", "503", "35")] if failed.door == "lambda" else []
        )


def test_request_by_correlation_id_of_a_success_is_its_one_request_line(capture):
    [listed] = [
        request
        for request in capture.sent
        if request.door == "flask" and request.route == "/students" and request.status == 200
    ]
    [row] = capture.run("request-by-correlation-id", correlation_id=listed.correlation_id)
    assert (row["front_door"], row["message"], row["route_template"], row["status"]) == (
        "flask",
        "request",
        "/students",
        "200",
    )


def test_server_errors_by_route_pairs_each_5xx_with_its_exception(capture):
    rows = capture.run("server-errors-by-route")
    # Then each (door, route, status) of the 5xx sent is a row counting them, most first
    sent = Counter(
        (request.door, request.route, str(request.status)) for request in capture.sent if request.status >= 500
    )
    assert {(row["door"], row["route_template"], row["http_status"]): int(row["requests"]) for row in rows} == sent
    assert [int(row["requests"]) for row in rows] == sorted((int(row["requests"]) for row in rows), reverse=True)
    # And the 503s of a stopped database name the exception, with the trace of one of them
    traces = {record["xray_trace_id"] for record in _request_lines(capture) if record["status"] >= 500}
    for row in rows:
        if row["route_template"] == "/students/count":
            assert row["exception"] == DATABASE_UNAVAILABLE
        assert row["example_trace_id"] in traces


def test_latency_by_route_gives_each_routes_percentiles(capture):
    rows = capture.run("latency-by-route")
    # Then each (door, route) sent is a row with its number of requests
    sent = Counter((request.door, request.route) for request in capture.sent)
    assert {(row["front_door"], row["route"]): int(row["requests"]) for row in rows} == sent
    for row in rows:
        # And its percentiles in order, up to the slowest request's duration
        durations = [
            record["duration_ms"]
            for record in _request_lines(capture)
            if (record["front_door"], record["route"]) == (row["front_door"], row["route"])
        ]
        p50, p90, p99, slowest = (float(row[column]) for column in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))
        assert min(durations) <= p50 <= p90 <= p99 <= slowest == max(durations)
    # And the slowest p99 first
    assert [float(row["p99_ms"]) for row in rows] == sorted((float(row["p99_ms"]) for row in rows), reverse=True)


def test_slowest_requests_lists_the_slowest_first_with_their_ids(capture):
    rows = capture.run("slowest-requests")
    durations = sorted((record["duration_ms"] for record in _request_lines(capture)), reverse=True)
    assert len(capture.sent) > 25 and len(rows) == 25
    assert [float(row["duration_ms"]) for row in rows] == durations[:25]
    sent_ids = {request.correlation_id for request in capture.sent}
    assert all(row["correlation_id"] in sent_ids and row["xray_trace_id"].startswith("1-") for row in rows)


def test_cold_start_requests_tells_the_first_lambda_request_from_the_warm_ones(capture):
    rows = capture.run("cold-start-requests")
    lambda_requests = sum(request.door == "lambda" for request in capture.sent)
    assert [(row["cold_start"], int(row["requests"])) for row in rows] == [("1", 1), ("0", lambda_requests - 1)]
    assert all(float(row["p50_ms"]) <= float(row["p99_ms"]) <= float(row["max_ms"]) for row in rows)


def test_lambda_init_durations_counts_the_lambda_doors_cold_starts(capture):
    # Given the platform.report lines the Lambda door's runtime wrote, one per invocation, with initDurationMs after
    # an initialization: one here, the capture's requests coming one at a time to one environment
    reports = [record for record in capture.records if record.get("type") == "platform.report"]
    assert len(reports) == sum(request.door == "lambda" for request in capture.sent)
    [cold] = [report["record"]["metrics"] for report in reports if "initDurationMs" in report["record"]["metrics"]]
    # When the query runs; Then its one row counts that cold start, its init duration and the memory it used
    [row] = capture.run("lambda-init-durations")
    assert row["cold_starts"] == "1"
    assert float(row["avg_init_ms"]) == float(row["max_init_ms"]) == pytest.approx(cold["initDurationMs"])
    assert int(row["max_memory_mb"]) == cold["maxMemoryUsedMB"] > 0


def test_refused_requests_counts_401_403_and_429_by_door_route_and_client(capture_in_aws, access_lines):
    rows = capture_in_aws.run("refused-requests")
    refused = {401, 403, 429}
    # Then the doors' refusals, by door and route (their lines name no client) ...
    expected = Counter(
        (request.door, request.route, str(request.status), "")
        for request in capture_in_aws.sent
        if request.status in refused
    )
    # ... and API Gateway's, with the client's address (AWS's lines: see capture_in_aws)
    expected += Counter(("", route, str(status), ip) for _, route, status, ip in access_lines if status in refused)
    assert {
        (row["front_door"], row["route_template"], row["status"], row["ip"]): int(row["refused"]) for row in rows
    } == expected
    assert ("flask", "/students/count", "429", "") in expected and ("", "/students", "401", OTHER_IP) in expected
    assert [int(row["refused"]) for row in rows] == sorted((int(row["refused"]) for row in rows), reverse=True)


def test_waf_blocked_clients_counts_blocks_by_rule_and_client(capture_in_aws):
    # Given the web ACL's lines (AWS's only: see capture_in_aws); Then its blocks by rule and client, most first
    assert capture_in_aws.run("waf-blocked-clients") == [
        {
            "terminatingRuleId": "AWS-AWSManagedRulesSQLiRuleSet",
            "httpRequest.clientIp": OTHER_IP,
            "blocked": "2",
            "example_uri": "/students/count",
        },
        {
            "terminatingRuleId": "rate-limit-per-ip",
            "httpRequest.clientIp": CLIENT_IP,
            "blocked": "1",
            "example_uri": "/students",
        },
    ]


def test_recent_errors_lists_each_5xx_exception_newest_first(capture):
    rows = capture.run("recent-errors")
    errors = [record for record in capture.records if record.get("level") in ("ERROR", "CRITICAL")]
    assert 0 < len(rows) == min(len(errors), 50)
    # Then every 503 of the stopped database is there with its exception, by its request's correlation id
    failed = {
        request.correlation_id
        for request in capture.sent
        if request.status == 503 and request.route == "/students/count"
    }
    logged = {row["correlation_id"]: row["exception_type"] for row in rows if row["message"] == "request failed"}
    assert failed <= set(logged) and {logged[correlation_id] for correlation_id in failed} == {DATABASE_UNAVAILABLE}
    # And the newest first
    assert [row["@timestamp"] for row in rows] == sorted((row["@timestamp"] for row in rows), reverse=True)


def test_every_saved_query_returns_rows_on_the_capture(capture_in_aws):
    # The tests above check each query's rows; this one keeps a new query from going untested.
    tested = {
        "request-by-correlation-id",
        "server-errors-by-route",
        "latency-by-route",
        "slowest-requests",
        "cold-start-requests",
        "lambda-init-durations",
        "refused-requests",
        "waf-blocked-clients",
        "recent-errors",
    }
    assert set(SAVED) == tested
    failed = next(request for request in capture_in_aws.sent if request.status == 503)
    for name, query in SAVED.items():
        values = {"correlation_id": failed.correlation_id} if query.parameters else {}
        assert capture_in_aws.run(name, **values), name


def _make(*arguments: str) -> subprocess.CompletedProcess:
    """`make` in the repository; STAMP= keeps it from (re)installing the virtual environment first."""
    return subprocess.run(
        [shutil.which("make"), "--no-print-directory", "STAMP=", *arguments],
        cwd=QUERIES_DIR.parent,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
        check=False,
    )


def test_make_logs_query_prints_a_header_and_a_line_per_row(capture, tmp_path):
    # Given the capture in a file, as `make run > captured.log` writes it
    log = tmp_path / "captured.log"
    log.write_text("\n".join(capture.lines) + "\n")
    # When `make logs-query` runs server-errors-by-route over it
    done = _make("logs-query", "NAME=server-errors-by-route", f"LOG={log}")
    # Then it prints the header, then one line per row: the 5xx sent, by door, route, status and exception
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["door", "route_template", "http_status", "exception", "requests", "example_trace_id"]
    sent = Counter(
        (request.door, request.route, str(request.status)) for request in capture.sent if request.status >= 500
    )
    assert Counter({tuple(row.split()[:3]): int(row.split()[4]) for row in rows}) == sent
    assert all(row.split()[3] == DATABASE_UNAVAILABLE for row in rows if "/students/count" in row)
    # And with PARAMS, a query's parameter: the two lines of one failed request
    failed = next(request for request in capture.sent if request.status == 503)
    done = _make(
        "logs-query", "NAME=request-by-correlation-id", f"LOG={log}", f"PARAMS=correlation_id={failed.correlation_id}"
    )
    assert done.returncode == 0, done.stderr
    error_line, request_line = done.stdout.splitlines()[1:]
    assert " ERROR " in error_line and " request failed " in error_line and DATABASE_UNAVAILABLE in error_line
    assert " INFO " in request_line and " /students/count " in request_line and " 503 " in request_line


def test_make_logs_query_without_a_name_says_how_and_lists_the_queries():
    done = _make("logs-query")
    assert done.returncode == 2
    assert "usage: make logs-query NAME=<query> LOG=<file>" in done.stderr
    assert all(name in done.stderr for name in SAVED)
