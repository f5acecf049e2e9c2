"""The Flask door limits each client: 429 problem documents with Retry-After; health checks exempt."""

from flask_backend import create_app
from tests.doors import token_for


def test_over_the_limit_is_429_with_retry_after(monkeypatch, db):
    # Given a door allowing 3 requests a minute per client
    monkeypatch.setenv("RATE_LIMIT", "3 per minute")
    client = create_app().test_client()
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


def test_health_checks_are_never_limited(monkeypatch, db):
    monkeypatch.setenv("RATE_LIMIT", "1 per minute")
    client = create_app().test_client()
    assert {client.get("/health").status_code for _ in range(5)} == {200}
    assert {client.get("/health/ready").status_code for _ in range(3)} == {200}


def test_clients_are_told_apart(monkeypatch, db):
    monkeypatch.setenv("RATE_LIMIT", "1 per minute")
    client = create_app().test_client()
    headers = {"Authorization": f"Bearer {token_for('registrar')}"}
    first = client.get("/students/count", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.2"})
    second = client.get("/students/count", headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.3"})
    assert first.status_code == second.status_code == 200
