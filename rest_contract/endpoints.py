"""One function per operation: authenticate, parse the request, call the domain, shape the response."""

from observability.requests import current_correlation_id
from student_records.access import Caller
from student_records.errors import DuplicateStudent
from student_records.models import CheckResult, ListAuditQuery, ListStudentsQuery, Student, StudentCreate, StudentPatch
from student_records.service import get_student_service

from .auth import AuthUnavailable, get_authenticator
from .errors import InvalidFields
from .http import JSON, ApiRequest, ApiResponse, json_response
from .parsing import (
    entity_tag,
    parse_body,
    parse_id,
    parse_idempotency_key,
    parse_if_match,
    parse_query,
)
from .problems import NOT_READY, PROBLEM_JSON, problem_for_exception, problem_response

STUDENT_ID = "student_id"


def authenticated_caller(request: ApiRequest) -> Caller:
    identity = get_authenticator().identify(request.header("authorization"))
    return Caller(identity.subject, identity.role, current_correlation_id(), identity.student_id)


def _student_response(status: int, student: Student, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(
        status, student.model_dump_json().encode(), JSON, {"ETag": entity_tag(student.version), **(headers or {})}
    )


def health(request: ApiRequest) -> ApiResponse:
    # Liveness only: never touches the database, so a database outage does not get processes killed.
    return json_response(200, {"status": "ok"})


def readiness(request: ApiRequest) -> ApiResponse:
    report = get_student_service().readiness(auth=_auth_check())
    checks = {name: check.model_dump() for name, check in report.checks.items()}
    if report.status != "ok":
        failed = ", ".join(name for name, check in report.checks.items() if check.status != "ok")
        return problem_response(NOT_READY, f"failed checks: {failed}", checks=checks)
    return json_response(200, {"status": "ok", "checks": checks, "schema_version": report.schema_version})


def _auth_check() -> CheckResult:
    """Signing keys held (read now if need be), or what is missing or failing: readiness is for operators."""
    try:
        return CheckResult(status="ok", detail=get_authenticator().check())
    except AuthUnavailable as problem:
        return CheckResult(status="failed", detail=str(problem))


def count_students(request: ApiRequest) -> ApiResponse:
    return json_response(200, {"count": get_student_service().count(authenticated_caller(request))})


def list_students(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    page = get_student_service().list(caller, parse_query(ListStudentsQuery, request.query))
    return ApiResponse(200, page.model_dump_json().encode(), JSON)


def create_student(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    data = parse_body(StudentCreate, request)
    key = parse_idempotency_key(request)
    if key is None:
        student = get_student_service().create(caller, data)
        return _student_response(201, student, {"Location": f"/students/{student.id}"})
    recorded = get_student_service().create_once(caller, data, key, _recordable_creation)
    if recorded.status != 201:
        return ApiResponse(recorded.status, recorded.body.encode(), PROBLEM_JSON)
    return _student_response(201, Student.model_validate_json(recorded.body), {"Location": recorded.location or ""})


def _recordable_creation(outcome: Student | DuplicateStudent) -> tuple[int, str, str | None]:
    """The answer to record for replays of an idempotent create."""
    if isinstance(outcome, Student):
        return 201, outcome.model_dump_json(), f"/students/{outcome.id}"
    conflict = problem_for_exception(outcome)
    return conflict.status, conflict.body.decode(), None


def get_student(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    student = get_student_service().get(caller, parse_id(request, STUDENT_ID))
    if isinstance(student, Student):
        return _student_response(200, student)
    return ApiResponse(200, student.model_dump_json().encode(), JSON)


def update_student(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    student_id = parse_id(request, STUDENT_ID)
    if_match = parse_if_match(request)
    patch = parse_body(StudentPatch, request)
    if not patch.changes():
        raise InvalidFields(
            [{"field": "body", "in": "body", "message": "name at least one field to change", "type": "missing"}],
            "the patch changes nothing",
        )
    return _student_response(200, get_student_service().update(caller, student_id, patch, if_match))


def delete_student(request: ApiRequest) -> ApiResponse:
    get_student_service().delete(authenticated_caller(request), parse_id(request, STUDENT_ID))
    return ApiResponse(204)


def student_audit(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    student_id = parse_id(request, STUDENT_ID)
    page = get_student_service().audit_trail(caller, student_id, parse_query(ListAuditQuery, request.query))
    return ApiResponse(200, page.model_dump_json().encode(), JSON)
