"""The request log line, written without `logging`: on each door exactly one per request, with the keys, order,
types and timestamp format of a Powertools line, and none when LOG_LEVEL is above INFO."""

import io
import json
import os
import re
import subprocess
import sys

import pytest

from observability.logs import formatter, logger
from observability.request_log import write_request_line
from tests.observability.stack import REPO_ROOT

FLASK_KEYS = [
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "name",
    "correlation_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "front_door",
    "xray_trace_id",
]
LAMBDA_KEYS = [
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "name",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "correlation_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "front_door",
    "xray_trace_id",
]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000")

# Each door in a fresh process (the logger's keys are process state): GET /health, then a path with no route.
DRIVE_DOOR = """
import sys
door = sys.argv[1]
if door == "lambda":
    import os
    from local_stack.gateway import lambda_runtime_environment
    os.environ.update(lambda_runtime_environment("student-records-api"))
    from handlers.api import lambda_handler
    from local_stack.gateway import build_rest_event, invoke
    from rest_contract.operations import OPERATIONS
    for path in ("/health", "/no-such-route"):
        event = build_rest_event("GET", path, route_templates=[operation.path for operation in OPERATIONS])
        invoke(lambda_handler, event, function_name="student-records-api")
else:
    from flask_backend import create_app
    client = create_app().test_client()
    for path in ("/health", "/no-such-route"):
        client.get(path, headers={"X-Request-Id": "caller-id-" + path.strip("/")})
"""


def _drive(door: str, database_conninfo: str, log_level: str) -> list[dict]:
    env = {
        **os.environ,
        "DATABASE_URL": database_conninfo,
        "LOG_LEVEL": log_level,
        "XRAY_SAMPLING": "all",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:9",
        "METRICS_FLUSH_INTERVAL_S": "0",
        "AWS_EC2_METADATA_DISABLED": "true",
    }  # not on EC2: no instance metadata lookup
    for name in ("LAMBDA_TASK_ROOT", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_FUNCTION_NAME", "OBSERVABILITY"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", DRIVE_DOOR, door],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize(("door", "keys"), [("flask", FLASK_KEYS), ("lambda", LAMBDA_KEYS)])
def test_each_request_writes_one_line_with_the_powertools_keys(database_conninfo, door, keys):
    lines = _drive(door, database_conninfo, "INFO")
    requests = [line for line in lines if line.get("message") == "request"]
    assert [(line["route"], line["status"]) for line in requests] == [("/health", 200), ("NO_ROUTE", 404)]
    for line in requests:
        assert list(line) == keys
        assert (line["level"], line["service"], line["method"], line["front_door"]) == (
            "INFO",
            "student-records",
            "GET",
            door,
        )
        assert TIMESTAMP.fullmatch(line["timestamp"])
        assert isinstance(line["status"], int) and isinstance(line["duration_ms"], float)
        assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", line["xray_trace_id"])
    if door == "flask":
        assert [line["correlation_id"] for line in requests] == ["caller-id-health", "caller-id-no-such-route"]
        assert {line["name"] for line in requests} == {"student-records"}
    else:
        assert [line["cold_start"] for line in requests] == [True, False]
        assert {line["function_name"] for line in requests} == {"student-records-api"}
        assert isinstance(requests[0]["function_memory_size"], int)
        assert requests[0]["function_request_id"] != requests[1]["function_request_id"]


@pytest.mark.parametrize("door", ["flask", "lambda"])
def test_no_request_line_above_info_but_the_metrics_stay(database_conninfo, door):
    lines = _drive(door, database_conninfo, "WARNING")
    assert not [line for line in lines if line.get("message") == "request"]
    assert [document["Requests"] for document in lines if "Requests" in document] == [1, 1]


@pytest.fixture
def logger_keys():
    """The logger's persistent keys, restored after the test changes them."""
    saved = dict(formatter.get_current_keys())
    yield
    formatter.remove_keys([key for key in formatter.get_current_keys() if key not in saved])
    formatter.append_keys(**saved)


@pytest.mark.parametrize("lambda_context", [False, True], ids=["flask", "lambda"])
def test_the_line_is_the_one_powertools_would_write(capsys, logger_keys, lambda_context):
    # Given the logger's keys as each door leaves them (in Lambda, the invocation's context)
    if lambda_context:
        logger.structure_logs(
            cold_start=False,
            function_name="fn",
            function_memory_size=512,
            function_arn="arn:aws:lambda:eu-west-1:1:function:fn",
            function_request_id="r-1",
        )
    fields = {"method": "GET", "route": "/students", "status": 200, "duration_ms": 1.25, "front_door": "flask"}
    # When the request line is written, and Powertools writes the same fields
    write_request_line("c-1", fields)
    logger.info("request", extra={"correlation_id": "c-1", **fields})
    ours, theirs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # Then they differ only in where they were written from and (perhaps) the millisecond
    assert list(ours) == list(theirs)
    for key in ("location", "timestamp"):
        assert type(ours.pop(key)) is type(theirs.pop(key))
    assert ours == theirs


def test_a_closed_stdout_fails_no_request(monkeypatch):
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr("sys.stdout", closed)
    write_request_line("c-1", {"method": "GET", "route": "/health", "status": 200})
