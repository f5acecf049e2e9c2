"""RFC 9457 problem documents: every problem type the API answers with (openapi.json lists them all), and how each
error, the domain's, the request's or the web server's, becomes one."""

import math
from dataclasses import dataclass

from observability import exception_fields, logger
from student_records.errors import (
    AccessDenied,
    AlreadyTaken,
    ConstraintViolation,
    DatabaseUnavailable,
    IdempotencyKeyReused,
    InvalidCursor,
    RecordNotFound,
    StateConflict,
    UnknownReference,
    VersionMismatch,
)

from .errors import (
    InvalidFields,
    MalformedRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    UnsupportedMediaType,
)
from .http import ApiResponse, encode_json
from .identity import AuthUnavailable, Unauthenticated

PROBLEM_JSON = "application/problem+json"
# How long a client is advised to wait before retrying a 503, unless the error knows better (a database known to be
# unreachable: its probe's interval).
DEFAULT_RETRY_AFTER_MS = 5000


@dataclass(frozen=True, slots=True)
class ProblemType:
    slug: str
    title: str
    status: int

    @property
    def uri(self) -> str:
        return f"urn:student-records:problem:{self.slug}"


MALFORMED_REQUEST = ProblemType("malformed-request", "Malformed request", 400)
INVALID_CURSOR = ProblemType("invalid-cursor", "Invalid cursor", 400)
UNAUTHORIZED = ProblemType("unauthorized", "Unauthorized", 401)
FORBIDDEN = ProblemType("forbidden", "Forbidden", 403)
NOT_FOUND = ProblemType("not-found", "Not found", 404)
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", "Method not allowed", 405)
CONFLICT = ProblemType("conflict", "Conflict", 409)
PRECONDITION_FAILED = ProblemType("precondition-failed", "Precondition failed", 412)
PAYLOAD_TOO_LARGE = ProblemType("payload-too-large", "Payload too large", 413)
UNSUPPORTED_MEDIA_TYPE = ProblemType("unsupported-media-type", "Unsupported media type", 415)
TOO_MANY_REQUESTS = ProblemType("too-many-requests", "Too many requests", 429)
VALIDATION_FAILED = ProblemType("validation-failed", "Validation failed", 422)
INTERNAL_ERROR = ProblemType("internal-error", "Internal server error", 500)
SERVICE_UNAVAILABLE = ProblemType("service-unavailable", "Service unavailable", 503)
NOT_READY = ProblemType("not-ready", "Not ready", 503)
# Refused by the web server before any route (Werkzeug, under the Flask door)
URI_TOO_LONG = ProblemType("uri-too-long", "URI too long", 414)
REQUEST_HEADER_FIELDS_TOO_LARGE = ProblemType("request-header-fields-too-large", "Request header fields too large", 431)

ALL_PROBLEM_TYPES = (
    MALFORMED_REQUEST,
    INVALID_CURSOR,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    CONFLICT,
    PRECONDITION_FAILED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    TOO_MANY_REQUESTS,
    VALIDATION_FAILED,
    INTERNAL_ERROR,
    SERVICE_UNAVAILABLE,
    NOT_READY,
    URI_TOO_LONG,
    REQUEST_HEADER_FIELDS_TOO_LARGE,
)
# What a web server's own rejection of a request is answered with, by its status (Werkzeug raises these while it
# parses a request, before any route runs). A status missing here is one the server never raises on its own.
_REJECTIONS = {
    problem.status: problem
    for problem in (
        MALFORMED_REQUEST,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        PAYLOAD_TOO_LARGE,
        URI_TOO_LONG,
        UNSUPPORTED_MEDIA_TYPE,
        REQUEST_HEADER_FIELDS_TOO_LARGE,
    )
}


def problem_response(
    problem: ProblemType, detail: str, *, headers: dict[str, str] | None = None, **extensions: object
) -> ApiResponse:
    document = {"type": problem.uri, "title": problem.title, "status": problem.status, "detail": detail}
    document.update(extensions)
    return ApiResponse(problem.status, encode_json(document), PROBLEM_JSON, headers or {})


def service_unavailable(detail: str, retry_after_ms: int) -> ApiResponse:
    """A 503 with its retry advice twice: `Retry-After` in whole seconds (RFC 9110 allows no fraction, so rounded
    up), and `retry_after_ms` in the document for clients that can wait less than a second."""
    return problem_response(
        SERVICE_UNAVAILABLE,
        detail,
        headers={"Retry-After": str(math.ceil(retry_after_ms / 1000))},
        retry_after_ms=retry_after_ms,
    )


def problem_for_rejection(status: int, detail: str) -> ApiResponse:
    """The web server refused the request with `status` (a malformed request, a URI too long, ...): its registered
    problem type, keeping the status; a status with none is an internal error."""
    problem = _REJECTIONS.get(status)
    if problem is None:
        logger.error("request rejected with an unregistered status", extra={"rejected_status": status})
        return problem_response(INTERNAL_ERROR, "an unexpected error occurred; the logs hold the details")
    return problem_response(problem, detail)


def problem_for_exception(error: Exception) -> ApiResponse:
    """Maps any exception a request can raise to its problem document; unknown ones are a 500.
    Every 5xx is logged at ERROR with the exception (its types and frames, never its text)."""
    response = _problem_for(error)
    if response.status >= 500:
        logger.error("request failed", extra=exception_fields(error))
    return response


def _problem_for(error: Exception) -> ApiResponse:
    match error:
        case Unauthenticated():
            return problem_response(UNAUTHORIZED, str(error), headers={"WWW-Authenticate": error.challenge})
        case AccessDenied():
            return problem_response(FORBIDDEN, str(error))
        case IdempotencyKeyReused():
            return problem_response(
                VALIDATION_FAILED,
                str(error),
                errors=[{"field": "Idempotency-Key", "in": "header", "message": str(error), "type": "reused"}],
            )
        case InvalidFields():
            return problem_response(VALIDATION_FAILED, str(error), errors=error.errors)
        case MalformedRequest(duplicate_key=str(key)):
            return problem_response(
                MALFORMED_REQUEST,
                str(error),
                errors=[{"field": key, "in": "body", "message": "appears more than once", "type": "duplicate_key"}],
            )
        case MalformedRequest():
            return problem_response(MALFORMED_REQUEST, str(error))
        case PayloadTooLarge():
            return problem_response(PAYLOAD_TOO_LARGE, str(error))
        case UnsupportedMediaType():
            return problem_response(UNSUPPORTED_MEDIA_TYPE, str(error))
        case InvalidCursor():
            return problem_response(
                INVALID_CURSOR,
                str(error),
                errors=[{"field": "cursor", "in": "query", "message": str(error), "type": "invalid_cursor"}],
            )
        case RecordNotFound() | RouteNotFound():
            return problem_response(NOT_FOUND, str(error) or "no such resource")
        case MethodNotAllowed():
            return problem_response(METHOD_NOT_ALLOWED, str(error), headers={"Allow": ", ".join(error.allowed)})
        case AlreadyTaken():
            return problem_response(
                CONFLICT,
                str(error),
                errors=[{"field": error.field, "in": "body", "message": error.message, "type": "unique"}],
            )
        case StateConflict():
            return problem_response(CONFLICT, str(error))
        case UnknownReference():
            return problem_response(
                VALIDATION_FAILED,
                str(error),
                errors=[{"field": error.field, "in": "body", "message": str(error), "type": "reference"}],
            )
        case VersionMismatch():
            return problem_response(PRECONDITION_FAILED, str(error), current_version=error.current)
        case ConstraintViolation():
            return problem_response(VALIDATION_FAILED, str(error), errors=[])
        case DatabaseUnavailable():
            return service_unavailable(str(error), error.retry_after_ms or DEFAULT_RETRY_AFTER_MS)
        case AuthUnavailable():  # its text names settings: for operators, not clients
            return service_unavailable("authentication is unavailable", DEFAULT_RETRY_AFTER_MS)
    return problem_response(INTERNAL_ERROR, "an unexpected error occurred; the logs hold the details")
