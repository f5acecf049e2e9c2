"""What the route table is made of: an Operation (one route, its endpoint, and what openapi.json says of it), the
Context an endpoint works with, the Services behind every endpoint, and a Resource, which declares the operations
every resource has alike."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from student_records.access import Caller
from student_records.audit.service import AuditService
from student_records.catalogue.service import CourseService, OfferingService, TermService
from student_records.enrollments.service import EnrollmentService
from student_records.models import Patch
from student_records.readiness import ReadinessService
from student_records.students.service import StudentService
from student_records.transcripts.service import TranscriptService

from .auth import Authenticating
from .errors import InvalidFields
from .http import ApiRequest, ApiResponse
from .parsing import parse_body, parse_id, parse_if_match, parse_query
from .responses import json_body

Model = TypeVar("Model", bound=BaseModel)
PatchOf = TypeVar("PatchOf", bound=Patch)


@dataclass(frozen=True)
class Services:
    """The use cases every endpoint may call, built once per process by the composition root (application/)."""

    students: StudentService
    courses: CourseService
    terms: TermService
    offerings: OfferingService
    enrollments: EnrollmentService
    transcripts: TranscriptService
    audit: AuditService
    readiness: ReadinessService
    authenticator: Authenticating


@dataclass(frozen=True, slots=True)
class Context:
    """One request as its endpoint sees it: the request, who sent it (authenticated by Api.dispatch before the
    endpoint runs), the services, and the request's parts parsed and validated on demand."""

    request: ApiRequest
    services: Services
    max_body_bytes: int
    authenticated: Caller | None  # None for a public operation only

    @property
    def caller(self) -> Caller:
        if self.authenticated is None:
            raise RuntimeError("a public operation has no caller")
        return self.authenticated

    def body(self, model: type[Model]) -> Model:
        return parse_body(model, self.request, self.max_body_bytes)

    def patch(self, model: type[PatchOf]) -> PatchOf:
        """A patch body that changes at least one field."""
        patch = self.body(model)
        if not patch.changes():
            raise InvalidFields(
                [{"field": "body", "in": "body", "message": "name at least one field to change", "type": "missing"}],
                "the patch changes nothing",
            )
        return patch

    def query(self, model: type[Model]) -> Model:
        return parse_query(model, self.request.query)

    def path_id(self, name: str) -> int:
        return parse_id(self.request, name)

    def if_match(self) -> int | None:
        return parse_if_match(self.request)


Endpoint = Callable[[Context], ApiResponse]


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # OpenAPI and API Gateway form: /students/{student_id}
    summary: str  # one line: what the operation does
    description: str  # what a client needs besides: who may call it, what it refuses and why
    endpoint: Endpoint
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


# The problem statuses openapi.json documents for each kind of operation; 404, 405 and 500 are documented for all.
READ_PROBLEMS = (401, 403, 429, 503)
CREATE_PROBLEMS = (400, 409, 413, 415, 422, *READ_PROBLEMS)
PATCH_PROBLEMS = (400, 409, 412, 413, 415, 422, *READ_PROBLEMS)
LIST_PROBLEMS = (400, 422, *READ_PROBLEMS)
ONE_PROBLEMS = (422, *READ_PROBLEMS)


class Resource:
    """One resource's routes: its collection's path, its record's path parameter, and which of the Services serves it.
    Its methods declare the operations every resource has alike, each calling the service's method of that name with
    the caller and what the request carries; an operation of its own is an Operation with an endpoint of its own."""

    def __init__(self, tag: str, path: str, record_id: str, service: Callable[[Services], Any]) -> None:
        self.tag = tag
        self.path = path
        self.record_id = record_id
        self.record_path = f"{path}/{{{record_id}}}"
        self._service = service

    def create(
        self, operation_id: str, summary: str, description: str, body: type[BaseModel], record: type[BaseModel]
    ) -> Operation:
        def endpoint(ctx: Context) -> ApiResponse:
            created = self._service(ctx.services).create(ctx.caller, ctx.body(body))
            return json_body(201, created, f"{self.path}/{created.id}")

        return self._operation(
            operation_id,
            "POST",
            self.path,
            summary,
            description,
            endpoint,
            201,
            (record,),
            body_model=body,
            problem_statuses=CREATE_PROBLEMS,
        )

    def list(
        self, operation_id: str, summary: str, description: str, query: type[BaseModel], *pages: type[BaseModel]
    ) -> Operation:
        def endpoint(ctx: Context) -> ApiResponse:
            return json_body(200, self._service(ctx.services).list(ctx.caller, ctx.query(query)))

        return self._operation(
            operation_id,
            "GET",
            self.path,
            summary,
            description,
            endpoint,
            200,
            pages,
            query_model=query,
            problem_statuses=LIST_PROBLEMS,
        )

    def get(self, operation_id: str, summary: str, description: str, *records: type[BaseModel]) -> Operation:
        def endpoint(ctx: Context) -> ApiResponse:
            return json_body(200, self._service(ctx.services).get(ctx.caller, ctx.path_id(self.record_id)))

        return self._operation(
            operation_id,
            "GET",
            self.record_path,
            summary,
            description,
            endpoint,
            200,
            records,
            problem_statuses=ONE_PROBLEMS,
        )

    def update(
        self, operation_id: str, summary: str, description: str, patch: type[Patch], record: type[BaseModel]
    ) -> Operation:
        def endpoint(ctx: Context) -> ApiResponse:
            record_id, if_match = ctx.path_id(self.record_id), ctx.if_match()
            return json_body(200, self._service(ctx.services).update(ctx.caller, record_id, ctx.patch(patch), if_match))

        return self._operation(
            operation_id,
            "PATCH",
            self.record_path,
            summary,
            description,
            endpoint,
            200,
            (record,),
            body_model=patch,
            problem_statuses=PATCH_PROBLEMS,
        )

    def delete(self, operation_id: str, summary: str, description: str, *, refusals: tuple[int, ...] = ()) -> Operation:
        """`refusals`: statuses a delete may be refused with besides ONE_PROBLEMS' (409 for a record still used)."""

        def endpoint(ctx: Context) -> ApiResponse:
            self._service(ctx.services).delete(ctx.caller, ctx.path_id(self.record_id))
            return ApiResponse(204)

        return self._operation(
            operation_id,
            "DELETE",
            self.record_path,
            summary,
            description,
            endpoint,
            204,
            problem_statuses=(*refusals, *ONE_PROBLEMS),
        )

    def _operation(
        self,
        operation_id: str,
        method: str,
        path: str,
        summary: str,
        description: str,
        endpoint: Endpoint,
        success_status: int,
        response_models: tuple[type[BaseModel], ...] = (),
        **details: Any,
    ) -> Operation:
        endpoint.__name__ = endpoint.__qualname__ = operation_id
        return Operation(
            operation_id,
            method,
            path,
            summary,
            description,
            endpoint,
            success_status,
            response_models,
            tag=self.tag,
            **details,
        )
