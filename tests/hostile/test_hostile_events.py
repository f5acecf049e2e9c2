"""Powertools' own API Gateway REST test events (tests/fixtures/powertools/, README there) against the Lambda door: as
they are, and aimed at every route of the API, without a token, with one, and with a JSON Content-Type besides.
Whatever they hold (bodies marked base64 that are not, no headers at all, repeated query parameters), each is answered
with a status the contract documents for its route, never a 500; and a body that does not decode fails only the
routes that read a body."""

import copy
import json
import re
from pathlib import Path

import pytest

from deployed.contract_check import reply_mismatch
from handlers.api import create_handler
from local_stack.gateway import LambdaContext, lambda_response_to_http
from rest_contract.operations import OPERATIONS
from tests.doors import token_for

EVENTS_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "powertools"
EVENTS = {path.name: json.loads(path.read_text()) for path in sorted(EVENTS_DIR.glob("*.json"))}
UNDECODABLE = "apiGatewayProxyEvent_noVersionAuth.json"  # body "Hello from Lambda!", marked isBase64Encoded


@pytest.fixture
def handler(db, application):
    return create_handler(application=application)


def _with_headers(event: dict, **headers: str) -> dict:
    for name, value in headers.items():
        event["headers"] = {**(event.get("headers") or {}), name: value}
        event["multiValueHeaders"] = {**(event.get("multiValueHeaders") or {}), name: [value]}
    return event


def _aimed_at(event: dict, method: str, template: str, **headers: str) -> dict:
    """The event as API Gateway would send it for `method` on the route `template` (each parameter 1)."""
    aimed = copy.deepcopy(event)
    path = re.sub(r"\{\w+\}", "1", template)
    names = re.findall(r"\{(\w+)\}", template)
    aimed.update(httpMethod=method, path=path, resource=template, pathParameters=dict.fromkeys(names, "1") or None)
    aimed["requestContext"].update(httpMethod=method, path=path, resourcePath=template)
    return _with_headers(aimed, **headers)


def _answer(handler, event: dict) -> tuple[int, str, bytes]:
    status, headers, body = lambda_response_to_http(handler(event, LambdaContext("student-records-api")))
    content_type = next((value for name, value in headers if name.lower() == "content-type"), "")
    return status, content_type, body


@pytest.mark.parametrize("name", EVENTS)
def test_each_event_as_it_is_gets_a_documented_answer(handler, name):
    # Given one of Powertools' events, for a path of its own (/my/path, /trip, ...)
    event = copy.deepcopy(EVENTS[name])
    # When the Lambda door handles it as it is
    status, content_type, body = _answer(handler, event)
    # Then it is answered as the contract documents, never with a server error
    assert status < 500, (status, body)
    assert reply_mismatch(event["httpMethod"], event["path"], status, content_type, body) is None, (status, body)


@pytest.mark.parametrize("name", EVENTS)
def test_each_event_aimed_at_every_route_gets_a_documented_answer(handler, db, name):
    admin = f"Bearer {token_for('admin')}"
    for operation in OPERATIONS:
        for headers in ({}, {"Authorization": admin}, {"Authorization": admin, "Content-Type": "application/json"}):
            # Given the event aimed at the route, without a token, with an admin's, and with a JSON media type too
            event = _aimed_at(EVENTS[name], operation.method, operation.path, **headers)
            # When the Lambda door handles it
            status, content_type, body = _answer(handler, event)
            # Then the answer is one the contract documents for that route, never a server error
            assert status < 500, (operation.operation_id, headers.keys(), status, body)
            mismatch = reply_mismatch(operation.method, event["path"], status, content_type, body)
            assert mismatch is None, (operation.operation_id, mismatch)
    # And nothing was written by any of them: no body among them is a valid record
    assert db.execute("SELECT (SELECT count(*) FROM students) + (SELECT count(*) FROM courses)").fetchone() == (0,)


@pytest.mark.parametrize(("template", "expected"), [("/health", {"status": "ok"}), ("/health/ready", None)])
def test_a_route_that_takes_no_body_never_reads_one_that_does_not_decode(handler, template, expected):
    # Given the event whose body is marked base64 but is not, aimed at a route that takes no body
    event = _aimed_at(EVENTS[UNDECODABLE], "GET", template)
    # When the Lambda door handles it
    status, _, body = _answer(handler, event)
    # Then the route answers as for any other request: the body was never decoded
    assert status == 200, body
    if expected is not None:
        assert json.loads(body) == expected


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("POST", "/students"),
        ("PATCH", "/students/{student_id}"),
        ("POST", "/courses"),
        ("PUT", "/enrollments/{enrollment_id}/grade"),
    ],
)
def test_a_body_that_does_not_decode_is_a_malformed_request(handler, db, method, template):
    # Given the event whose body is marked base64 but is not, aimed at a route that reads a body, with a token
    event = _aimed_at(
        EVENTS[UNDECODABLE],
        method,
        template,
        Authorization=f"Bearer {token_for('admin')}",
        **{"Content-Type": "application/json"},
    )
    # When the Lambda door handles it
    status, content_type, body = _answer(handler, event)
    # Then it is a client's malformed request, saying why, and nothing was written
    assert (status, content_type) == (400, "application/problem+json"), body
    problem = json.loads(body)
    assert problem["type"] == "urn:student-records:problem:malformed-request"
    assert "base64" in problem["detail"]
    assert db.execute("SELECT count(*) FROM student_audit").fetchone() == (0,)
