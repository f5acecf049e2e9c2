"""The Lambda door's entry point (handlers.api.lambda_handler): the only place it reads its settings, from the
environment of its execution environment, at the first invocation; warm invocations reuse that handler."""

import json

import pytest

import handlers.api as api
from local_stack.gateway import LambdaContext, build_rest_event
from student_records.settings import ConfigurationError
from tests.doors import ROUTE_TEMPLATES, token_for


@pytest.fixture
def fresh_execution_environment(monkeypatch):
    """No handler built yet, as in a new execution environment."""
    monkeypatch.setattr(api, "_handler", None)


def _count_event() -> dict:
    headers = [("Authorization", f"Bearer {token_for('registrar')}")]
    return build_rest_event("GET", "/students/count", headers=headers, route_templates=ROUTE_TEMPLATES)


def test_the_first_invocation_builds_the_handler_from_the_environment_and_warm_ones_reuse_it(
    fresh_execution_environment, monkeypatch, database_conninfo, db
):
    # Given the environment of an execution environment: its database (the signing keys are the run's)
    monkeypatch.setenv("DATABASE_URL", database_conninfo)
    # When it is invoked twice
    first = api.lambda_handler(_count_event(), LambdaContext("student-records-api"))
    built = api._handler
    second = api.lambda_handler(_count_event(), LambdaContext("student-records-api"))
    # Then both are answered, by the one handler the first invocation built
    assert first["statusCode"] == second["statusCode"] == 200
    assert json.loads(second["body"]) == {"count": 0}
    assert built is not None and api._handler is built


def test_a_bad_setting_fails_the_first_invocation_in_one_line_naming_it(fresh_execution_environment, monkeypatch):
    monkeypatch.setenv("DB_POOL_MAX_SIZE", "0")
    with pytest.raises(ConfigurationError, match="DB_POOL_MAX_SIZE") as refused:
        api.lambda_handler(_count_event(), LambdaContext("student-records-api"))
    assert "\n" not in str(refused.value)
    assert api._handler is None
