"""The route table: every operation of the API, declared once. Both doors register exactly these,
and the OpenAPI document is generated from them."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from student_records.models import (
    AuditPage,
    ListAuditQuery,
    ListStudentsQuery,
    Readiness,
    Student,
    StudentCount,
    StudentCreate,
    StudentDirectoryEntry,
    StudentDirectoryPage,
    StudentPage,
    StudentPatch,
)

from . import endpoints
from .errors import MethodNotAllowed, RouteNotFound
from .http import ApiRequest, ApiResponse


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # OpenAPI and API Gateway form: /students/{student_id}
    summary: str
    endpoint: Callable[[ApiRequest], ApiResponse]
    success_status: int
    response_models: tuple[type[BaseModel], ...] = ()  # one of these, by the caller's role
    body_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    problem_statuses: tuple[int, ...] = ()
    tag: str = "students"
    public: bool = False  # no bearer token needed
    accepts_idempotency_key: bool = False  # honours Idempotency-Key (documented only where it is)

    @property
    def rule(self) -> str:
        """The path in the <param> form both Powertools and Flask route on."""
        return re.sub(r"\{(\w+)\}", r"<\1>", self.path)


class HealthBody(BaseModel):
    status: str


_READ_PROBLEMS = (401, 403, 429, 503)
OPERATIONS: tuple[Operation, ...] = (
    Operation("health", "GET", "/health", "Liveness: the process answers (never touches the database)",
              endpoints.health, 200, (HealthBody,), tag="health", public=True),
    Operation("readiness", "GET", "/health/ready", "Readiness: database round trip and schema version",
              endpoints.readiness, 200, (Readiness,), problem_statuses=(503,), tag="health", public=True),
    # Literal paths before templated ones: /students/count must not be read as a student id.
    Operation("countStudents", "GET", "/students/count", "Exact number of students, in constant time",
              endpoints.count_students, 200, (StudentCount,), problem_statuses=_READ_PROBLEMS),
    Operation("listStudents", "GET", "/students",
              "A page of students, by id, optionally filtered (teachers get directory fields only)",
              endpoints.list_students, 200, (StudentPage, StudentDirectoryPage), query_model=ListStudentsQuery,
              problem_statuses=(400, 422, *_READ_PROBLEMS)),
    Operation("createStudent", "POST", "/students",
              "Create a student; an Idempotency-Key makes retries safe for 24 hours",
              endpoints.create_student, 201, (Student,), body_model=StudentCreate,
              problem_statuses=(400, 409, 413, 415, 422, *_READ_PROBLEMS), accepts_idempotency_key=True),
    Operation("getStudent", "GET", "/students/{student_id}",
              "One student (teachers get directory fields only; students only their own record)",
              endpoints.get_student, 200, (Student, StudentDirectoryEntry), problem_statuses=(404, 422, *_READ_PROBLEMS)),
    Operation("updateStudent", "PATCH", "/students/{student_id}",
              "Change some fields; If-Match (or version) guards against lost updates",
              endpoints.update_student, 200, (Student,), body_model=StudentPatch,
              problem_statuses=(400, 404, 409, 412, 413, 415, 422, *_READ_PROBLEMS)),
    Operation("deleteStudent", "DELETE", "/students/{student_id}", "Delete a student",
              endpoints.delete_student, 204, problem_statuses=(404, 422, *_READ_PROBLEMS)),
    Operation("getStudentAudit", "GET", "/students/{student_id}/audit",
              "Who read or changed this student record, oldest first (admins only)",
              endpoints.student_audit, 200, (AuditPage,), query_model=ListAuditQuery,
              problem_statuses=(400, 422, *_READ_PROBLEMS), tag="audit"),
)

_PATTERNS = [(re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", op.path) + "$"), op) for op in OPERATIONS]


def unmatched_route(method: str, path: str) -> Exception:
    """What a request that no operation matches gets: 405 when the path exists with other methods, else 404."""
    allowed = sorted({op.method for pattern, op in _PATTERNS if pattern.match(path)})
    if allowed:
        return MethodNotAllowed(method, allowed)
    return RouteNotFound("no route matches this path")
