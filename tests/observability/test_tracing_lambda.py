"""The Lambda door's trace: one `## lambda_handler` subsegment of the function's segment per sampled
invocation, annotated as Powertools Tracer annotates it, with each statement inside its datagram."""

import json
import re
import uuid

import pytest

from observability.context import current_trace_id
from observability.lambda_door import instrument_api_handler
from observability.tracing import database_subsegment
from tests.observability.stack import DoorProcess, UdpCollector

FUNCTION_SEGMENT = "53995c3f42cd8ad8"


class _Context:
    function_name = "student-records-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:student-records-api"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"


def _handler(seen: list):
    def lambda_handler(event, context):
        seen.append(current_trace_id())
        with database_subsegment("students.get", "SELECT 1 WHERE id = %s", "host=db", "app"):
            pass
        return {"statusCode": 200, "headers": {}, "body": "{}"}

    return instrument_api_handler(lambda_handler)


def test_a_sampled_invocation_sends_its_handler_subsegment_with_the_statement_inside(daemon, monkeypatch):
    # Given an invocation Lambda traces, one it does not, and one more it traces
    seen: list = []
    handler = _handler(seen)
    roots = [f"1-5759e988-bd862e3fe1be46a99427279{n}" for n in range(3)]
    replies = []
    for root, sampled in zip(roots, "101", strict=False):
        monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent={FUNCTION_SEGMENT};Sampled={sampled}")
        replies.append(handler({"httpMethod": "GET"}, _Context()))
    documents = daemon.wait_for(lambda received: {d["trace_id"] for d in received} >= {roots[0], roots[2]})
    # Then each sampled one sent one datagram: the handler's subsegment under the function's segment
    first, third = documents
    assert (first["type"], first["name"]) == ("subsegment", "## lambda_handler")
    assert (first["trace_id"], first["parent_id"]) == (roots[0], FUNCTION_SEGMENT)
    assert first["annotations"]["Service"] == "student-records" and first["annotations"]["front_door"] == "lambda"
    assert [first["annotations"]["ColdStart"], third["annotations"]["ColdStart"]] == [True, False]
    assert not first["in_progress"] and first["start_time"] <= first["end_time"]
    (statement,) = first["subsegments"]
    assert (statement["name"], statement["namespace"], statement["parent_id"]) == ("postgres@db", "remote", first["id"])
    assert statement["annotations"] == {"query_name": "students.get"}
    # And the unsampled one sent nothing, yet every reply names its root and decision, and the code inside saw
    # the invocation's trace id (the one its log lines carry)
    assert third["trace_id"] == roots[2]
    assert [reply["headers"]["X-Amzn-Trace-Id"] for reply in replies] == [
        f"Root={root};Sampled={sampled}" for root, sampled in zip(roots, "101", strict=False)
    ]
    assert seen == roots


def test_an_invocation_without_a_trace_header_is_served_untraced(daemon, monkeypatch):
    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    seen: list = []
    response = _handler(seen)({"httpMethod": "GET"}, _Context())
    assert response["statusCode"] == 200 and "X-Amzn-Trace-Id" not in response["headers"] and seen == [None]


@pytest.fixture(scope="module")
def lambda_door(database_conninfo, tmp_path_factory):
    daemon = UdpCollector()
    door = DoorProcess("lambda", database_conninfo, daemon.port, tmp_path_factory.mktemp("lambda-door"))
    yield door, daemon
    door.stop()
    daemon.close()


def test_statements_ride_in_the_handlers_datagram(lambda_door, db):
    door, daemon = lambda_door
    # When a create (one INSERT) and then a read of it (one audited SELECT) are made
    body = json.dumps({"first_name": "Ada", "last_name": "Lovelace", "email": f"{uuid.uuid4().hex[:10]}@example.org"})
    status, headers, created = door.send("POST", "/students", body.encode())
    assert status == 201, created
    status, headers, _ = door.send("GET", f"/students/{json.loads(created)['id']}")
    assert status == 200
    trace_id = headers["X-Amzn-Trace-Id"].split(";")[0].removeprefix("Root=")

    # Then the function sent one datagram for the read: its handler subsegment, with the statement inside
    def handler_arrived(documents):
        return any(d["trace_id"] == trace_id and d["name"] == "## lambda_handler" for d in documents)

    documents = daemon.wait_for(handler_arrived)
    (handler,) = [d for d in documents if d["trace_id"] == trace_id and d.get("type") == "subsegment"]
    (statement,) = handler["subsegments"]
    assert statement["namespace"] == "remote" and statement["parent_id"] == handler["id"]
    database = statement["sql"]["url"].rsplit("/", 1)[1]
    assert statement["name"] == f"{database}@127.0.0.1"  # the database, one node on the service map
    assert statement["annotations"] == {"query_name": "students.get"}
    assert re.search(r"%(\(\w+\))?s", statement["sql"]["sanitized_query"])  # placeholders, not values
