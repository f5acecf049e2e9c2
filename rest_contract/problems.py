"""RFC 9457 problem documents: the one place where an error becomes an HTTP status."""

from dataclasses import dataclass

from observability.logs import logger, exception_fields

from student_records.errors import (
    AccessDenied,
    AlreadyTaken,
    ConstraintViolation,
    DatabaseUnavailable,
    DuplicateStudent,
    IdempotencyKeyReused,
    InvalidCursor,
    RecordNotFound,
    StateConflict,
    StudentNotFound,
    UnknownReference,
    VersionMismatch,
)

from .auth import AuthUnavailable, Unauthenticated
from .errors import (
    InvalidFields,
    MalformedRequest,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    UnsupportedMediaType,
)
from .http import ApiResponse, encode_json

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = "5"


@dataclass(frozen=True)
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
)


def problem_response(
    problem: ProblemType, detail: str, *, headers: dict[str, str] | None = None, **extensions: object
) -> ApiResponse:
    document = {"type": problem.uri, "title": problem.title, "status": problem.status, "detail": detail}
    document.update(extensions)
    return ApiResponse(problem.status, encode_json(document), PROBLEM_JSON, headers or {})


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
        case StudentNotFound() | RecordNotFound() | RouteNotFound():
            return problem_response(NOT_FOUND, str(error) or "no such resource")
        case MethodNotAllowed():
            return problem_response(METHOD_NOT_ALLOWED, str(error), headers={"Allow": ", ".join(error.allowed)})
        case DuplicateStudent():
            return problem_response(
                CONFLICT,
                str(error),
                errors=[{"field": error.field, "in": "body", "message": "already taken", "type": "unique"}],
            )
        case AlreadyTaken():
            return problem_response(
                CONFLICT,
                str(error),
                errors=[{"field": error.field, "in": "body", "message": str(error), "type": "unique"}],
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
            return problem_response(SERVICE_UNAVAILABLE, str(error), headers={"Retry-After": RETRY_AFTER_SECONDS})
        case AuthUnavailable():  # its text names settings: for operators, not clients
            return problem_response(
                SERVICE_UNAVAILABLE, "authentication is unavailable", headers={"Retry-After": RETRY_AFTER_SECONDS}
            )
    return problem_response(INTERNAL_ERROR, "an unexpected error occurred; the logs hold the details")
