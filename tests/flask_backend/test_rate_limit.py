"""The Flask door limits each client: 429 problem documents with Retry-After, observed under the route refused;
health checks exempt."""

import json

import pytest

from flask_backend import create_app
from tests.apps import application_for
from tests.doors import token_for


@pytest.fixture
def door_limited_to(settings, database):
    """The Flask door, allowing each client `rate` (RATE_LIMIT)."""

    def _door(rate: str):
        limited = settings.model_copy(update={"http": settings.http.model_copy(update={"rate_limit": rate})})
        return create_app(application=application_for(limited, database)).test_client()

    return _door


def test_over_the_limit_is_429_with_retry_after(door_limited_to, db):
    # Given a door allowing 3 requests a minute per client
    client = door_limited_to("3 per minute")
    headers = {"Authorization": f"Bearer {token_for('registrar')}"}
    # When a client sends a fourth
    statuses = [client.get("/students/count", headers=headers).status_code for _ in range(4)]
    refused = client.get("/students/count", headers=headers)
    # Then it is refused with a problem document saying when to come back
    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert refused.content_type == "application/problem+json"
    assert refused.get_json()["type"] == "urn:student-records:problem:too-many-requests"
    assert int(refused.headers["Retry-After"]) > 0


def test_a_refused_request_is_observed_under_its_route(door_limited_to, db, capsys):
    # Given a door allowing 1 request a minute per client, whose first request was served
    client = door_limited_to("1 per minute")
    headers = {"Authorization": f"Bearer {token_for('registrar')}"}
    assert client.get("/students/1", headers=headers).status_code == 404
    capsys.readouterr()
    # When the client asks again, for another student
    assert client.get("/students/2", headers=headers).status_code == 429
    # Then the refusal's request line (and so its metrics) names the route's template, as a served request's does
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"message":"request"' in line]
    assert [(line["route"], line["status"]) for line in lines] == [("/students/{student_id}", 429)]


def test_health_checks_are_never_limited(door_limited_to, db):
    client = door_limited_to("1 per minute")
    assert {client.get("/health").status_code for _ in range(5)} == {200}
    assert {client.get("/health/ready").status_code for _ in range(3)} == {200}


def test_clients_are_told_apart(door_limited_to, db):
    client = door_limited_to("1 per minute")
    headers = {"Authorization": f"Bearer {token_for('registrar')}"}
    first = client.get("/students/count", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    second = client.get("/students/count", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.3"})
    assert first.status_code == second.status_code == 200
