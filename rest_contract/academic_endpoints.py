"""One function per academic operation (courses, terms, offerings, enrollments, grades, transcripts):
authenticate, parse the request, call the domain, shape the response."""

from pydantic import BaseModel

from student_records.academic_models import (
    Course,
    CourseCreate,
    CoursePatch,
    Enrollment,
    EnrollmentCreate,
    EnrollmentPatch,
    GradeRecord,
    ListCoursesQuery,
    ListOfferingsQuery,
    Offering,
    OfferingCreate,
    OfferingPatch,
    PageQuery,
    Term,
    TermCreate,
)
from student_records.academics import get_academic_service

from .endpoints import STUDENT_ID, authenticated_caller
from .errors import InvalidFields
from .http import JSON, ApiRequest, ApiResponse
from .parsing import entity_tag, parse_body, parse_id, parse_if_match, parse_query

COURSE_ID = "course_id"
TERM_ID = "term_id"
OFFERING_ID = "offering_id"
ENROLLMENT_ID = "enrollment_id"


def _json(status: int, payload: BaseModel, headers: dict[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status, payload.model_dump_json().encode(), JSON, headers or {})


def _versioned(
    status: int, record: Course | Offering | Enrollment, headers: dict[str, str] | None = None
) -> ApiResponse:
    """A record with a version, which is also its ETag."""
    return _json(status, record, {"ETag": entity_tag(record.version), **(headers or {})})


def _created(record: Course | Term | Offering | Enrollment, collection: str) -> dict[str, str]:
    return {"Location": f"/{collection}/{record.id}"}


def _changes_something(patch: CoursePatch | OfferingPatch) -> None:
    if not patch.changes():
        raise InvalidFields(
            [{"field": "body", "in": "body", "message": "name at least one field to change", "type": "missing"}],
            "the patch changes nothing",
        )


def create_course(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    course = get_academic_service().create_course(caller, parse_body(CourseCreate, request))
    return _versioned(201, course, _created(course, "courses"))


def list_courses(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _json(200, get_academic_service().list_courses(caller, parse_query(ListCoursesQuery, request.query)))


def get_course(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _versioned(200, get_academic_service().get_course(caller, parse_id(request, COURSE_ID)))


def update_course(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    course_id = parse_id(request, COURSE_ID)
    if_match = parse_if_match(request)
    patch = parse_body(CoursePatch, request)
    _changes_something(patch)
    return _versioned(200, get_academic_service().update_course(caller, course_id, patch, if_match))


def delete_course(request: ApiRequest) -> ApiResponse:
    get_academic_service().delete_course(authenticated_caller(request), parse_id(request, COURSE_ID))
    return ApiResponse(204)


def create_term(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    term = get_academic_service().create_term(caller, parse_body(TermCreate, request))
    return _json(201, term, _created(term, "terms"))


def list_terms(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _json(200, get_academic_service().list_terms(caller, parse_query(PageQuery, request.query)))


def get_term(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _json(200, get_academic_service().get_term(caller, parse_id(request, TERM_ID)))


def create_offering(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    offering = get_academic_service().create_offering(caller, parse_body(OfferingCreate, request))
    return _versioned(201, offering, _created(offering, "offerings"))


def list_offerings(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _json(200, get_academic_service().list_offerings(caller, parse_query(ListOfferingsQuery, request.query)))


def get_offering(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _versioned(200, get_academic_service().get_offering(caller, parse_id(request, OFFERING_ID)))


def update_offering(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    offering_id = parse_id(request, OFFERING_ID)
    if_match = parse_if_match(request)
    patch = parse_body(OfferingPatch, request)
    _changes_something(patch)
    return _versioned(200, get_academic_service().update_offering(caller, offering_id, patch, if_match))


def enroll(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    offering_id = parse_id(request, OFFERING_ID)
    enrollment = get_academic_service().enroll(caller, offering_id, parse_body(EnrollmentCreate, request))
    return _versioned(201, enrollment, _created(enrollment, "enrollments"))


def list_enrollments(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    offering_id = parse_id(request, OFFERING_ID)
    return _json(200, get_academic_service().roster(caller, offering_id, parse_query(PageQuery, request.query)))


def get_enrollment(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _versioned(200, get_academic_service().get_enrollment(caller, parse_id(request, ENROLLMENT_ID)))


def drop_enrollment(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    enrollment_id = parse_id(request, ENROLLMENT_ID)
    if_match = parse_if_match(request)
    patch = parse_body(EnrollmentPatch, request)
    return _versioned(200, get_academic_service().drop(caller, enrollment_id, patch, if_match))


def record_grade(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    enrollment_id = parse_id(request, ENROLLMENT_ID)
    grade = parse_body(GradeRecord, request)
    return _versioned(200, get_academic_service().record_grade(caller, enrollment_id, grade))


def grade_scale(request: ApiRequest) -> ApiResponse:
    return _json(200, get_academic_service().grade_scale(authenticated_caller(request)))


def transcript(request: ApiRequest) -> ApiResponse:
    caller = authenticated_caller(request)
    return _json(200, get_academic_service().transcript(caller, parse_id(request, STUDENT_ID)))
