"""The Lambda door's trace: the invocation's header parsed once yet followed from one invocation to the
next, and each statement's subsegment sent inside its `## lambda_handler` subsegment's datagram."""

import json
import re
import uuid

import pytest
from aws_xray_sdk.core.models.facade_segment import FacadeSegment
from aws_xray_sdk.core.models.subsegment import Subsegment

from observability.xray_lambda_context import ParsedOnceLambdaContext
from tests.observability.stack import DoorProcess, UdpCollector
from tests.observability.test_tracing_flask import xray_sdk_enabled  # noqa: F401 (a fixture)

FIRST = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
SECOND = "Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=0"


def test_the_context_follows_the_invocations_trace_header(monkeypatch, xray_sdk_enabled):
    context = ParsedOnceLambdaContext()
    # Given an invocation with a subsegment open
    monkeypatch.setenv("_X_AMZN_TRACE_ID", FIRST)
    facade = context.get_trace_entity()
    assert isinstance(facade, FacadeSegment)
    assert (facade.trace_id, facade.id, facade.sampled) == ("1-5759e988-bd862e3fe1be46a994272793",
                                                            "53995c3f42cd8ad8", True)
    handler = Subsegment("## lambda_handler", "local", facade)
    context.put_subsegment(handler)
    # Then the same header keeps the same segment and its open subsegment
    assert context.get_trace_entity() is handler
    # And the next invocation's header starts a new segment, with nothing left of the previous one
    monkeypatch.setenv("_X_AMZN_TRACE_ID", SECOND)
    next_facade = context.get_trace_entity()
    assert isinstance(next_facade, FacadeSegment) and next_facade is not facade
    assert (next_facade.trace_id, next_facade.sampled) == ("1-5759e988-bd862e3fe1be46a994272794", False)


@pytest.fixture(scope="module")
def lambda_door(database_conninfo, tmp_path_factory):
    collector = UdpCollector()
    door = DoorProcess("lambda", database_conninfo, collector.port, tmp_path_factory.mktemp("lambda-door"))
    yield door, collector
    door.stop()
    collector.close()


def test_statements_ride_in_the_handlers_datagram(lambda_door, db):
    door, collector = lambda_door
    # When a create (one INSERT) and then a read of it (one audited SELECT) are made
    body = json.dumps({"first_name": "Ada", "last_name": "Lovelace", "email": f"{uuid.uuid4().hex[:10]}@example.org"})
    status, headers, created = door.send("POST", "/students", body.encode())
    assert status == 201, created
    status, headers, _ = door.send("GET", f"/students/{json.loads(created)['id']}")
    assert status == 200
    trace_id = headers["X-Amzn-Trace-Id"].split(";")[0].removeprefix("Root=")

    # Then the function sent one datagram for the read (a statement streamed alone would come before it):
    # its handler subsegment, with the statement inside
    def handler_arrived(documents):
        return any(d["trace_id"] == trace_id and d["name"] == "## lambda_handler" for d in documents)

    documents = collector.wait_for(handler_arrived)
    (handler,) = [d for d in documents if d["trace_id"] == trace_id and d.get("type") == "subsegment"]
    (statement,) = handler["subsegments"]
    assert statement["namespace"] == "remote" and statement["parent_id"] == handler["id"]
    assert re.search(r"%(\(\w+\))?s", statement["sql"]["sanitized_query"])  # placeholders, not values
