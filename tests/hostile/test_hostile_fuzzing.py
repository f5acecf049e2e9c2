"""Schemathesis against the committed openapi.json, on both doors, as an admin: whatever it sends, no door
answers 5xx, and every answer is one the document promises (status, media type, body, headers).

Per operation, over its own database seeded with a few students: the coverage phase (boundary and
schema-violating values, wrong media types, undeclared methods), then a bounded, derandomized fuzzing phase.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deployed.contract_check import OPENAPI_PATH
from flask_backend import create_app
from handlers.api import create_handler
from local_stack.gateway import InProcessFunction, LocalGateway
from tests.doors import ROUTE_TEMPLATES, token_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    # Input the document forbids gets a 4xx, and leaving the token out gets 401: hostile input too.
    negative_data_rejection,
    ignored_auth,
]
# http.server, under LocalGateway, answers 501 by itself for methods it has no handler for (TRACE, QUERY):
# that is the emulator, not the function, so the Lambda door is probed with the methods it can route.
LAMBDA_DOOR_UNEXPECTED_METHODS = ["get", "put", "post", "delete", "options", "patch"]

flask_door_schema = schemathesis.openapi.from_path(OPENAPI_PATH, config=schemathesis.Config())
lambda_door_schema = schemathesis.openapi.from_path(
    OPENAPI_PATH,
    config=schemathesis.Config.from_dict(
        {"phases": {"coverage": {"unexpected-methods": LAMBDA_DOOR_UNEXPECTED_METHODS}}}
    ),
)

FUZZING = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    # One database per operation on purpose: what one example creates or deletes, the next one meets.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
SEEDED_STUDENTS = 3


@pytest.fixture(scope="module")
def flask_door(session_application):
    return create_app(application=session_application)


@pytest.fixture(scope="module")
def lambda_gateway(session_application):
    """The Lambda handler behind the local API Gateway, on a free loopback port."""
    gateway = LocalGateway(
        InProcessFunction(create_handler(application=session_application), "student-records-api"),
        route_templates=ROUTE_TEMPLATES,
        port=0,
    )
    gateway.start_in_thread()
    yield gateway
    gateway.shutdown()


@pytest.fixture
def seeded_students(db) -> None:
    """A few students, so that ids 1 to 3 find someone: reads, changes and deletes meet real rows."""
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO students (first_name, last_name, email) VALUES (%s, %s, %s)",
            [(f"Seed{n}", f"Student{n}", f"seed{n}@example.org") for n in range(1, SEEDED_STUDENTS + 1)],
        )


@pytest.fixture
def as_admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for('admin')}"}


@flask_door_schema.parametrize()
@FUZZING
def test_flask_door_answers_every_generated_request_as_documented(case, seeded_students, as_admin, flask_door):
    # On the operation and its schema rather than per call: ignored_auth re-sends each case through the schema's own
    # transport (the app cannot be set at import, when the cases are made: it is built from the test's settings).
    case.operation.app = case.operation.schema.app = flask_door
    case.call_and_validate(headers=as_admin, checks=CHECKS)


@lambda_door_schema.parametrize()
@FUZZING
def test_lambda_door_answers_every_generated_request_as_documented(case, seeded_students, as_admin, lambda_gateway):
    case.call_and_validate(base_url=f"http://127.0.0.1:{lambda_gateway.port}", headers=as_admin, checks=CHECKS)
