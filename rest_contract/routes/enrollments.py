"""Enrollments and grades: a student's place in an offering, the offering's roster, and the final grade."""

from student_records.enrollments.models import Enrollment, EnrollmentCreate, EnrollmentPatch, GradeRecord, RosterPage
from student_records.models import PageQuery

from ..http import ApiResponse
from ..responses import json_body
from ..routing import CREATE_PROBLEMS, LIST_PROBLEMS, PATCH_PROBLEMS, Context, Operation, Resource

ENROLLMENTS = Resource("enrollments", "/enrollments", "enrollment_id", lambda services: services.enrollments)
OFFERING_ID = "offering_id"


def enroll(ctx: Context) -> ApiResponse:
    offering_id = ctx.path_id(OFFERING_ID)
    enrollment = ctx.services.enrollments.enroll(ctx.caller, offering_id, ctx.body(EnrollmentCreate))
    return json_body(201, enrollment, f"/enrollments/{enrollment.id}")


def list_enrollments(ctx: Context) -> ApiResponse:
    return json_body(200, ctx.services.enrollments.roster(ctx.caller, ctx.path_id(OFFERING_ID), ctx.query(PageQuery)))


def drop_enrollment(ctx: Context) -> ApiResponse:
    enrollment_id, if_match = ctx.path_id(ENROLLMENTS.record_id), ctx.if_match()
    patch = ctx.patch(EnrollmentPatch)
    return json_body(200, ctx.services.enrollments.drop(ctx.caller, enrollment_id, patch, if_match))


def record_grade(ctx: Context) -> ApiResponse:
    enrollment_id = ctx.path_id(ENROLLMENTS.record_id)
    return json_body(200, ctx.services.enrollments.record_grade(ctx.caller, enrollment_id, ctx.body(GradeRecord)))


TAGS = {"enrollments": "A student's seat in an offering, the offering's roster, and the final grade."}
OPERATIONS = (
    Operation(
        "enroll",
        "POST",
        "/offerings/{offering_id}/enrollments",
        "Enroll a student, taking a seat (409 when full or already enrolled)",
        "Admins and registrars. The seat, the enrollment and its audit row are written in one transaction, so"
        " the last seat goes to exactly one of concurrent requests. 409 when the offering is full or the"
        " student already enrolled or completed; 422 naming an unknown student. A student who dropped is"
        " enrolled again.",
        enroll,
        201,
        (Enrollment,),
        body_model=EnrollmentCreate,
        problem_statuses=CREATE_PROBLEMS,
        tag="enrollments",
    ),
    Operation(
        "listEnrollments",
        "GET",
        "/offerings/{offering_id}/enrollments",
        "The offering's roster, by enrollment id (teachers: only for offerings they teach)",
        "Admins, registrars and the offering's teacher (403 for anyone else). Keyset pages by enrollment id,"
        " each with the student's directory fields; every student listed gets an audit row.",
        list_enrollments,
        200,
        (RosterPage,),
        query_model=PageQuery,
        problem_statuses=LIST_PROBLEMS,
        tag="enrollments",
    ),
    ENROLLMENTS.get(
        "getEnrollment",
        "One enrollment (teachers: of offerings they teach; students: their own)",
        "Admins, registrars, the offering's teacher (403 for another teacher), and the enrolled student"
        " (404 for anyone else's, so that whether it exists does not leak). The `ETag` is its version.",
        Enrollment,
    ),
    Operation(
        "dropEnrollment",
        "PATCH",
        "/enrollments/{enrollment_id}",
        "Drop an enrollment, freeing its seat; If-Match (or version) guards against lost updates",
        'Admins and registrars. `{"status": "dropped"}` frees the seat; 409 unless the student is'
        " enrolled; `If-Match` (or `version`) makes it conditional (412 when stale).",
        drop_enrollment,
        200,
        (Enrollment,),
        body_model=EnrollmentPatch,
        problem_statuses=PATCH_PROBLEMS,
        tag="enrollments",
    ),
    Operation(
        "recordGrade",
        "PUT",
        "/enrollments/{enrollment_id}/grade",
        "Record or correct the final grade, which completes the enrollment (teachers: offerings they teach)",
        "Admins, registrars and the offering's teacher. 422 when the grade is not on the scale"
        " (`GET /grade-scale`); 409 when the enrollment was dropped.",
        record_grade,
        200,
        (Enrollment,),
        body_model=GradeRecord,
        problem_statuses=CREATE_PROBLEMS,
        tag="enrollments",
    ),
)
