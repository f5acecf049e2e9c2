"""Werkzeug's own rejections of a request (raised while it parses one, before any route runs) are answered by the
Flask door as the API answers any error: a problem document of a type openapi.json lists, with the status Werkzeug
chose; never an ad-hoc type."""

import io
import json

import pytest
from werkzeug import exceptions

from deployed.contract_check import OPENAPI_PATH
from flask_backend import create_app
from tests.doors import Call, Reply, assert_reply_matches_openapi, token_for

REGISTERED_TYPES = set(
    json.loads(OPENAPI_PATH.read_text())["components"]["schemas"]["Problem"]["properties"]["type"]["enum"]
)
# What Werkzeug raises by itself while it reads a request: malformed input, a host not trusted, a client gone
# before its body arrived, a body, a URI or headers too large, a media type it cannot read.
SERVER_REJECTIONS = [
    exceptions.BadRequest,
    exceptions.BadHost,
    exceptions.SecurityError,
    exceptions.ClientDisconnected,
    exceptions.RequestEntityTooLarge,
    exceptions.RequestURITooLarge,
    exceptions.UnsupportedMediaType,
    exceptions.RequestHeaderFieldsTooLarge,
]


@pytest.fixture
def rejecting_client(application):
    """The Flask door, with a route of the test's own that raises the Werkzeug exception it names."""
    app = create_app(application=application)
    rejections = {rejection.__name__: rejection for rejection in [*SERVER_REJECTIONS, exceptions.ImATeapot]}

    def reject(name: str):
        raise rejections[name]

    app.add_url_rule("/rejected/<name>", view_func=reject)
    return app.test_client()


@pytest.mark.parametrize("rejection", SERVER_REJECTIONS, ids=lambda rejection: rejection.__name__)
def test_a_werkzeug_rejection_is_a_registered_problem_with_its_status(rejecting_client, rejection):
    # When Werkzeug rejects a request
    response = rejecting_client.get(f"/rejected/{rejection.__name__}")
    # Then the answer keeps its status, as a problem document of a type openapi.json lists
    problem = response.get_json()
    assert response.status_code == rejection.code
    assert response.content_type == "application/problem+json"
    assert problem["status"] == rejection.code
    assert problem["type"] in REGISTERED_TYPES, problem["type"]


def test_a_status_werkzeug_never_raises_by_itself_is_an_internal_error(rejecting_client, capsys):
    response = rejecting_client.get("/rejected/ImATeapot")
    assert response.status_code == 500
    assert response.get_json()["type"] == "urn:student-records:problem:internal-error"
    assert "request rejected with an unregistered status" in capsys.readouterr().out


class _BrokenConnection(io.RawIOBase):
    """A request body whose connection breaks as it is read."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        raise ConnectionResetError("the client went away")


def test_a_client_gone_before_its_body_arrived_is_a_malformed_request(db, application):
    # Given a create whose client goes away while its body is read
    client = create_app(application=application).test_client()
    response = client.post(
        "/students",
        content_type="application/json",
        headers={"Authorization": f"Bearer {token_for('registrar')}"},
        environ_overrides={"CONTENT_LENGTH": "100", "wsgi.input": _BrokenConnection()},
    )
    reply = Reply(
        response.status_code,
        {name.lower(): value for name, value in response.headers.items()},
        response.get_data(),
        "flask",
    )
    # Then Werkzeug's ClientDisconnected is answered as the contract documents a malformed request, and nothing is made
    assert reply.status == 400
    assert reply.json["type"] == "urn:student-records:problem:malformed-request"
    assert_reply_matches_openapi(Call("POST", "/students"), reply)
    assert db.execute("SELECT count(*) FROM students").fetchone()[0] == 0
