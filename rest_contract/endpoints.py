"""One function per operation: parse the request, call the domain, shape the response."""

from student_records.models import ListStudentsQuery, StudentCreate, StudentPatch
from student_records.service import get_student_service

from .errors import InvalidFields
from .http import JSON, ApiRequest, ApiResponse, json_response
from .parsing import entity_tag, parse_body, parse_id, parse_if_match, parse_query
from .problems import NOT_READY, problem_response

STUDENT_ID = "student_id"


def health(request: ApiRequest) -> ApiResponse:
    # Liveness only: never touches the database, so a database outage does not get processes killed.
    return json_response(200, {"status": "ok"})


def readiness(request: ApiRequest) -> ApiResponse:
    report = get_student_service().readiness()
    checks = {name: check.model_dump() for name, check in report.checks.items()}
    if report.status != "ok":
        failed = ", ".join(name for name, check in report.checks.items() if check.status != "ok")
        return problem_response(NOT_READY, f"failed checks: {failed}", checks=checks)
    return json_response(200, {"status": "ok", "checks": checks, "schema_version": report.schema_version})


def count_students(request: ApiRequest) -> ApiResponse:
    return json_response(200, {"count": get_student_service().count()})


def list_students(request: ApiRequest) -> ApiResponse:
    query = parse_query(ListStudentsQuery, request.query)
    page = get_student_service().list(query)
    return ApiResponse(200, page.model_dump_json().encode(), JSON)


def create_student(request: ApiRequest) -> ApiResponse:
    data = parse_body(StudentCreate, request)
    student = get_student_service().create(data)
    headers = {"Location": f"/students/{student.id}", "ETag": entity_tag(student.version)}
    return ApiResponse(201, student.model_dump_json().encode(), JSON, headers)


def get_student(request: ApiRequest) -> ApiResponse:
    student = get_student_service().get(parse_id(request, STUDENT_ID))
    return ApiResponse(200, student.model_dump_json().encode(), JSON, {"ETag": entity_tag(student.version)})


def update_student(request: ApiRequest) -> ApiResponse:
    student_id = parse_id(request, STUDENT_ID)
    if_match = parse_if_match(request)
    patch = parse_body(StudentPatch, request)
    if not patch.changes():
        raise InvalidFields(
            [{"field": "body", "in": "body", "message": "name at least one field to change", "type": "missing"}],
            "the patch changes nothing",
        )
    student = get_student_service().update(student_id, patch, if_match)
    return ApiResponse(200, student.model_dump_json().encode(), JSON, {"ETag": entity_tag(student.version)})


def delete_student(request: ApiRequest) -> ApiResponse:
    get_student_service().delete(parse_id(request, STUDENT_ID))
    return ApiResponse(204)
