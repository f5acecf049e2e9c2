"""The one door adapter, Api.dispatch: it names the route, authenticates the caller unless the operation is public,
runs the endpoint with the correlation id the request carries, and answers any error as a problem document."""

import json

from observability.requests import FLASK, RequestObservation
from rest_contract.http import ApiRequest, RequestBody
from rest_contract.operations import OPERATIONS
from tests.doors import token_for

STUDENT = b'{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}'


def _operation(operation_id: str):
    return next(operation for operation in OPERATIONS if operation.operation_id == operation_id)


def _request(
    method: str,
    path_params: dict[str, str],
    body: bytes | None = None,
    token: str | None = None,
    correlation_id: str = "carried-correlation-id",
) -> ApiRequest:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return ApiRequest(method, path_params, [], headers, RequestBody.of(body), correlation_id)


def test_the_caller_acts_under_the_correlation_id_the_request_carries(db, application):
    # Given a request that carries its correlation id, served outside any request observation
    request = _request("POST", {}, STUDENT, token_for("registrar", subject="registrar-1"))
    # When it is dispatched
    response = application.api.dispatch(_operation("createStudent"), request)
    # Then the audit row of the access names the request's id, and its caller
    assert response.status == 201, response.body
    assert db.execute("SELECT actor, correlation_id FROM student_audit").fetchall() == [
        ("registrar-1", "carried-correlation-id")
    ]


def test_the_route_is_named_for_the_request_being_observed(capsys, db, application):
    # Given a request being observed (as a door's instrumentation does)
    observation = RequestObservation(FLASK, "GET", "observed-id")
    # When a malformed id reaches an operation with a templated path
    response = application.api.dispatch(
        _operation("getStudent"), _request("GET", {"student_id": "abc"}, token=token_for("admin"))
    )
    observation.finish(response.status)
    # Then the error is its problem document, and the request is logged under the route's template
    assert (response.status, response.content_type) == (422, "application/problem+json")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"message":"request"' in line]
    assert [(line["route"], line["status"]) for line in lines] == [("/students/{student_id}", 422)]


def test_a_protected_operation_is_refused_without_a_token_and_a_public_one_is_served(application):
    assert application.api.dispatch(_operation("countStudents"), _request("GET", {})).status == 401
    assert application.api.dispatch(_operation("health"), _request("GET", {})).status == 200


def test_a_request_no_operation_matches_is_404_or_405(application):
    assert application.api.unmatched("GET", "/nowhere").status == 404
    refused = application.api.unmatched("PUT", "/students")
    assert refused.status == 405 and refused.headers["Allow"] == "GET, POST"
