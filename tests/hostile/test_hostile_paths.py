"""Percent-encoded paths on both doors. One rule, the one a WSGI server imposes on the Flask door (PEP 3333: PATH_INFO
is decoded before any routing) and the Lambda door applies to the still-encoded path API Gateway REST hands it: the
path is decoded once, then routed. So `%31` is `1`, an encoded slash separates segments as a slash does, and nothing
is decoded twice. Each case is sent through both doors, and through the Lambda door as the SAM-made event too."""

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from handlers.api import create_handler
from local_stack.gateway import LambdaContext
from tests.conftest import empty_tables
from tests.doors import Call, FlaskDoor, LambdaDoor, assert_reply_matches_openapi, token_for

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STUDENT = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}

# (path, the status both doors answer, the problem type when refused), with student 1 in the database
ENCODED_PATHS = [
    ("/students/%31", 200, None),  # an encoded digit is the digit (RFC 3986 §2.3)
    ("/%73tudents/%31", 200, None),  # in a literal segment too
    ("/students/%31%2F", 200, None),  # an encoded trailing slash is a trailing slash
    ("/students/1%2Faudit", 200, None),  # an encoded slash is a slash: the audit trail, an admin's
    ("/students/..%2F..%2Fetc%2Fpasswd", 404, "not-found"),  # four segments: no route has them
    ("/students/%2e%2e%2Fhealth", 404, "not-found"),
    ("/students/..%2F1", 404, "not-found"),
    ("/students/%2F%2F1", 404, "not-found"),
    ("/students/%2531", 422, "validation-failed"),  # %25 is "%": decoded once, "%31" is no id
    ("/students/%252e%252e%252Fhealth", 422, "validation-failed"),
    ("/students/1%3Fadmin=true", 422, "validation-failed"),  # an encoded "?" is part of the segment
    ("/students/1%23", 422, "validation-failed"),
    ("/students/1;jsessionid=x", 422, "validation-failed"),
    ("/students/%00", 422, "validation-failed"),
    ("/students/%FF", 422, "validation-failed"),  # not UTF-8
    ("/students/%ZZ", 422, "validation-failed"),  # not an escape: left as it is
    ("/students/%", 422, "validation-failed"),
    ("/students/%20", 422, "validation-failed"),
    ("/students/%EF%BC%91", 422, "validation-failed"),  # a fullwidth digit one is no digit
    ("/students/count%2F", 200, None),
    ("/health%2F", 200, None),
    ("/students/1/", 200, None),  # one trailing slash is accepted, as API Gateway accepts it
    ("/students//1", 404, "not-found"),  # an empty segment is no route, never a redirect
    ("/students/1//", 404, "not-found"),
    ("/students/%31%2F%2F", 404, "not-found"),
    ("//students/1", 404, "not-found"),
    ("/students/./1", 404, "not-found"),  # dot segments are not resolved: they are segments
    ("/students/1/..", 404, "not-found"),
    ("/students/%2e%2e", 422, "validation-failed"),
]


@pytest.fixture
def doors(db, application):
    """Both doors, each reply checked against openapi.json as the path the door routed: the path decoded once."""
    return [LambdaDoor(application), FlaskDoor(application)]


def _send(door, call: Call):
    reply = door.send(call)
    routed = unquote(urlsplit(call.path).path)
    assert_reply_matches_openapi(Call(call.method, routed), reply)
    return reply


def _fields(reply) -> tuple[int, str | None]:
    """The status, and the problem type's slug when refused."""
    if reply.status < 400:
        return reply.status, None
    return reply.status, reply.json["type"].removeprefix("urn:student-records:problem:")


@pytest.mark.parametrize(("path", "status", "problem_type"), ENCODED_PATHS, ids=[case[0] for case in ENCODED_PATHS])
def test_an_encoded_path_gets_one_answer_from_both_doors(doors, db, path, status, problem_type):
    # Given student 1
    assert _send(doors[0], Call("POST", "/students", json_body=STUDENT)).status == 201
    # When each door is sent the same encoded path
    replies = {door.name: _send(door, Call("GET", path)) for door in doors}
    # Then both give the one documented answer
    answers = {name: _fields(reply) for name, reply in replies.items()}
    assert answers == {"lambda": (status, problem_type), "flask": (status, problem_type)}, replies
    if status == 200 and "%31" in path:
        assert replies["lambda"].json["id"] == replies["flask"].json["id"] == 1
    assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("DELETE", "/students/%31", 204), ("PUT", "/students/%31", 405), ("PUT", "/students/..%2F1", 404)],
)
def test_an_encoded_path_is_the_same_resource_for_every_method(doors, db, method, path, status):
    # Given student 1, created again before each door
    replies = {}
    for door in doors:
        empty_tables(db)
        assert _send(door, Call("POST", "/students", json_body=STUDENT)).status == 201
        # When a method other than GET names it through an encoded path
        replies[door.name] = _send(door, Call(method, path))
    # Then both doors treat it as the decoded path
    assert {name: reply.status for name, reply in replies.items()} == {"lambda": status, "flask": status}
    if status == 405:
        assert replies["lambda"].headers["allow"] == replies["flask"].headers["allow"] == "DELETE, GET, PATCH"


def _sam_event(path: str, parameter: str) -> dict:
    """The SAM CLI's GET /students/{student_id} event, for a client that sent `path` (API Gateway keeps it encoded)
    and the parameter API Gateway decoded from it, with an admin's bearer token."""
    event = json.loads((FIXTURES / "apigw-rest-proxy-get.json").read_text())
    token = f"Bearer {token_for('admin')}"
    event.update(path=path, resource="/students/{student_id}", pathParameters={"student_id": parameter})
    event["requestContext"].update(
        path=f"/{event['requestContext']['stage']}{path}", resourcePath="/students/{student_id}"
    )
    event["headers"]["Authorization"] = token
    event["multiValueHeaders"]["Authorization"] = [token]
    return event


@pytest.mark.parametrize(
    ("path", "parameter", "status"),
    [
        ("/students/%31", "1", 200),
        ("/students/..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", 404),
        ("/students/%2531", "%31", 422),
    ],
)
def test_the_lambda_door_answers_the_sam_event_of_an_encoded_path_alike(db, application, path, parameter, status):
    # Given student 1, and the SAM-made event of a request for an encoded path, as API Gateway REST would send it
    db.execute("INSERT INTO students (first_name, last_name, email) VALUES ('Ada', 'L', 'ada@example.org')")
    handler = create_handler(application=application)
    # When the Lambda door handles it
    result = handler(_sam_event(path, parameter), LambdaContext("student-records-api"))
    # Then it answers as both doors answer that path
    assert result["statusCode"] == status, result["body"]
    if status == 200:
        assert json.loads(result["body"])["id"] == 1
