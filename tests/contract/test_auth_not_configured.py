"""Authentication not configured, or configured wrong, on both doors: protected routes answer 503 (never 500),
liveness stays up, readiness fails its `auth` check and says why, and the log says so once per application."""

import json

import pytest

from application.settings import Settings
from rest_contract.auth import AuthSettings, build_authenticator
from rest_contract.identity import AuthUnavailable
from tests.doors import Call

AUTH_VARIABLES = ("AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_JWKS_FILE", "AUTH_JWKS_URL")


@pytest.fixture
def settings(settings):
    """The doors of this module have no AUTH_* settings at all."""
    return settings.model_copy(update={"auth": AuthSettings()})


@pytest.mark.parametrize(
    "call",
    [
        Call("GET", "/students/count"),
        Call("GET", "/students/1"),
        Call("POST", "/students", json_body={"first_name": "Ada", "last_name": "Lovelace", "email": "a@example.org"}),
        Call("GET", "/courses"),
        Call("GET", "/students/count", as_admin=False),
    ],
    ids=["count", "get", "create", "courses", "no token"],
)
def test_a_protected_route_answers_503_without_auth_settings(api, call):
    # Given no AUTH_* variables at all
    # When a protected route is called (the door checks the reply against openapi.json)
    reply = api.send(call)
    # Then it is a 503 problem, retryable, that does not tell clients how the service is configured
    assert reply.status == 503, reply.body
    assert reply.content_type == "application/problem+json"
    assert reply.json["type"] == "urn:student-records:problem:service-unavailable"
    assert reply.json["detail"] == "authentication is unavailable"
    assert reply.headers["retry-after"] == "5"
    assert b"AUTH_" not in reply.body


def test_liveness_stays_up_and_readiness_fails_its_auth_check(capsys, api):
    # Given no AUTH_* variables at all
    # When the health routes are called
    liveness = api.send(Call("GET", "/health", as_admin=False))
    readiness = api.send(Call("GET", "/health/ready", as_admin=False))
    # Then the process is alive, but not ready, and readiness names what an operator must set
    assert liveness.status == 200
    assert readiness.status == 503
    assert readiness.json["detail"] == "failed checks: auth"
    auth = readiness.json["checks"]["auth"]
    assert auth["status"] == "failed"
    assert all(name in auth["detail"] for name in AUTH_VARIABLES)
    assert readiness.json["checks"]["database"]["status"] == "ok"
    # And ReadinessFailures counts the failure
    assert _metric_values(capsys.readouterr().out, "ReadinessFailures") == [1]


def test_the_missing_settings_are_logged_once_per_application(capsys, api):
    # Given a door built without AUTH_* settings
    # When several requests need authentication
    for _ in range(3):
        assert api.send(Call("GET", "/students/count")).status == 503
    api.send(Call("GET", "/health/ready", as_admin=False))
    # Then one warning names the missing variables, not one per request
    warnings = [
        line
        for line in _log_lines(capsys.readouterr().out)
        if line.get("level") == "WARNING" and "authentication is not configured" in line["message"]
    ]
    assert len(warnings) == 1, warnings
    assert all(name in warnings[0]["message"] for name in AUTH_VARIABLES)


ISSUER_AND_AUDIENCE = {"AUTH_ISSUER": "https://issuer", "AUTH_AUDIENCE": "app"}
ONE_KEY_SOURCE = "set exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        (ISSUER_AND_AUDIENCE, ONE_KEY_SOURCE),
        ({**ISSUER_AND_AUDIENCE, "AUTH_JWKS_FILE": "/jwks.json", "AUTH_JWKS_URL": "https://i/jwks"}, ONE_KEY_SOURCE),
        ({**ISSUER_AND_AUDIENCE, "AUTH_JWKS_URL": "http://i/jwks"}, "AUTH_JWKS_URL must start with https:// or s3://"),
        (
            {**ISSUER_AND_AUDIENCE, "AUTH_JWKS_URL": "s3://bucket-only", "AWS_REGION": "eu-west-1"},
            "AUTH_JWKS_URL must name an object: s3://bucket/key",
        ),
        ({**ISSUER_AND_AUDIENCE, "AUTH_JWKS_URL": "s3://bucket/jwks.json"}, "AWS_REGION (or AWS_DEFAULT_REGION)"),
        ({"AUTH_AUDIENCE": "app", "AUTH_JWKS_FILE": "/keys.json"}, "AUTH_ISSUER is not set"),
    ],
    ids=["no key source", "two key sources", "plain http", "s3 without key", "s3 without region", "no issuer"],
)
def test_wrong_settings_are_named(environ, named):
    # Given auth settings read from a wrong environment
    settings = Settings.from_environ(environ).auth
    # When the authenticator is built from them
    authenticator = build_authenticator(settings)
    # Then it refuses every token, naming what to fix
    with pytest.raises(AuthUnavailable) as refused:
        authenticator.identify("Bearer token")
    assert named in str(refused.value)


def test_an_s3_key_source_takes_its_region_from_the_lambda_runtime():
    environ = {**ISSUER_AND_AUDIENCE, "AUTH_JWKS_URL": "s3://bucket/cognito/jwks.json", "AWS_REGION": "eu-west-1"}
    settings = Settings.from_environ(environ).auth
    assert (settings.jwks_url, settings.jwks_file, settings.region) == (environ["AUTH_JWKS_URL"], None, "eu-west-1")
    assert settings.problems() == []


def _log_lines(out: str) -> list[dict]:
    lines = []
    for text in out.splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if isinstance(line, dict) and "message" in line:
            lines.append(line)
    return lines


def _metric_values(out: str, name: str) -> list:
    """The values of one metric in the EMF documents written to stdout."""
    values = []
    for text in out.splitlines():
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document and name in document:
            values += document[name] if isinstance(document[name], list) else [document[name]]
    return values
