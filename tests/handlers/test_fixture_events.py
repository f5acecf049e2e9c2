"""The Lambda door copes with real API Gateway events as the SAM CLI makes them."""

import base64
import json
from pathlib import Path

import pytest

from handlers.api import create_handler
from local_stack.gateway import LambdaContext
from tests.doors import token_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture
def lambda_handler(application):
    return create_handler(application=application)


def _event(name, token=None):
    """The fixture as the SAM CLI made it, plus the bearer token a real client would send."""
    event = json.loads((FIXTURES / name).read_text())
    if token:
        event["headers"]["Authorization"] = f"Bearer {token}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {token}"]
    return event


def test_get_event_with_base64_body_and_proxy_path_parameters(db, lambda_handler):
    # Given a student with id 1
    db.execute("INSERT INTO students (first_name, last_name, email) VALUES ('Ada', 'L', 'ada@example.org')")
    # When the SAM-generated GET /students/1 event arrives (its body is base64, its pathParameters hold proxy)
    result = lambda_handler(
        _event("apigw-rest-proxy-get.json", token_for("registrar")), LambdaContext("student-records-api")
    )
    # Then the student is returned
    assert result["statusCode"] == 200
    body = base64.b64decode(result["body"]) if result.get("isBase64Encoded") else result["body"]
    assert json.loads(body)["id"] == 1


def test_post_event_with_base64_body_is_validated(db, lambda_handler):
    # Given the SAM-generated POST /students event, with the Content-Type a real client sends (the SAM CLI's has none)
    event = _event("apigw-rest-proxy-post.json", token_for("registrar"))
    event["headers"]["Content-Type"] = "application/json"
    event["multiValueHeaders"]["Content-Type"] = ["application/json"]
    # When it arrives
    result = lambda_handler(event, LambdaContext("student-records-api"))
    # Its body is {"first_name": "Ada"}: two required fields are missing
    assert result["statusCode"] == 422
    problem = json.loads(result["body"])
    assert {error["field"] for error in problem["errors"]} == {"last_name", "email"}
    assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 0


def test_post_event_without_a_content_type_is_415(db, lambda_handler):
    # Given the SAM-generated POST /students event as it is: a JSON body, but no Content-Type
    result = lambda_handler(
        _event("apigw-rest-proxy-post.json", token_for("registrar")), LambdaContext("student-records-api")
    )
    # Then it is refused by media type, as the Flask door refuses the same request, and nothing is written
    assert result["statusCode"] == 415
    assert json.loads(result["body"])["type"] == "urn:student-records:problem:unsupported-media-type"
    assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 0


def test_fixture_event_without_a_token_is_401(db, lambda_handler):
    result = lambda_handler(_event("apigw-rest-proxy-get.json"), LambdaContext("student-records-api"))
    assert result["statusCode"] == 401
