"""The route table: every operation of the API, declared once. Both doors register exactly these,
and the OpenAPI document is generated from them."""

import re
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from student_records.academic_models import (
    Course,
    CourseCreate,
    CoursePage,
    CoursePatch,
    Enrollment,
    EnrollmentCreate,
    EnrollmentPatch,
    GradeRecord,
    GradeScale,
    ListCoursesQuery,
    ListOfferingsQuery,
    Offering,
    OfferingCreate,
    OfferingPage,
    OfferingPatch,
    PageQuery,
    RosterPage,
    Term,
    TermCreate,
    TermPage,
    Transcript,
)
from student_records.model_base import Model
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

from . import academic_endpoints, endpoints
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


class HealthBody(Model):
    status: str


_READ_PROBLEMS = (401, 403, 429, 503)
_CREATE_PROBLEMS = (400, 409, 413, 415, 422, *_READ_PROBLEMS)
_PATCH_PROBLEMS = (400, 409, 412, 413, 415, 422, *_READ_PROBLEMS)
_LIST_PROBLEMS = (400, 422, *_READ_PROBLEMS)
_ONE_PROBLEMS = (422, *_READ_PROBLEMS)  # 404 is documented for every operation
OPERATIONS: tuple[Operation, ...] = (
    Operation("health", "GET", "/health", "Liveness: the process answers (never touches the database)",
              endpoints.health, 200, (HealthBody,), tag="health", public=True),
    Operation("readiness", "GET", "/health/ready", "Readiness: database round trip, schema version and signing keys",
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
    # Academic records: the course catalogue
    Operation("createCourse", "POST", "/courses", "Add a course to the catalogue (code unique whatever its case)",
              academic_endpoints.create_course, 201, (Course,), body_model=CourseCreate,
              problem_statuses=_CREATE_PROBLEMS, tag="courses"),
    Operation("listCourses", "GET", "/courses", "A page of courses, by id, optionally searched by code or title",
              academic_endpoints.list_courses, 200, (CoursePage,), query_model=ListCoursesQuery,
              problem_statuses=_LIST_PROBLEMS, tag="courses"),
    Operation("getCourse", "GET", "/courses/{course_id}", "One course",
              academic_endpoints.get_course, 200, (Course,), problem_statuses=_ONE_PROBLEMS, tag="courses"),
    Operation("updateCourse", "PATCH", "/courses/{course_id}",
              "Change some fields; If-Match (or version) guards against lost updates",
              academic_endpoints.update_course, 200, (Course,), body_model=CoursePatch,
              problem_statuses=_PATCH_PROBLEMS, tag="courses"),
    Operation("deleteCourse", "DELETE", "/courses/{course_id}", "Remove a course that was never offered",
              academic_endpoints.delete_course, 204, problem_statuses=(409, *_ONE_PROBLEMS), tag="courses"),
    Operation("createTerm", "POST", "/terms", "Add a term, e.g. 2026-FALL",
              academic_endpoints.create_term, 201, (Term,), body_model=TermCreate,
              problem_statuses=_CREATE_PROBLEMS, tag="terms"),
    Operation("listTerms", "GET", "/terms", "A page of terms, by id",
              academic_endpoints.list_terms, 200, (TermPage,), query_model=PageQuery,
              problem_statuses=_LIST_PROBLEMS, tag="terms"),
    Operation("getTerm", "GET", "/terms/{term_id}", "One term",
              academic_endpoints.get_term, 200, (Term,), problem_statuses=_ONE_PROBLEMS, tag="terms"),
    Operation("createOffering", "POST", "/offerings", "Offer a course in a term, with its teacher and capacity",
              academic_endpoints.create_offering, 201, (Offering,), body_model=OfferingCreate,
              problem_statuses=_CREATE_PROBLEMS, tag="offerings"),
    Operation("listOfferings", "GET", "/offerings", "A page of offerings, by id, optionally of one term",
              academic_endpoints.list_offerings, 200, (OfferingPage,), query_model=ListOfferingsQuery,
              problem_statuses=_LIST_PROBLEMS, tag="offerings"),
    Operation("getOffering", "GET", "/offerings/{offering_id}", "One offering, with its seats taken",
              academic_endpoints.get_offering, 200, (Offering,), problem_statuses=_ONE_PROBLEMS, tag="offerings"),
    Operation("updateOffering", "PATCH", "/offerings/{offering_id}",
              "Change the teacher or the capacity (not below the seats taken); If-Match guards against lost updates",
              academic_endpoints.update_offering, 200, (Offering,), body_model=OfferingPatch,
              problem_statuses=_PATCH_PROBLEMS, tag="offerings"),
    # Academic records: a student's enrollments, grades and transcript
    Operation("enroll", "POST", "/offerings/{offering_id}/enrollments",
              "Enroll a student, taking a seat (409 when full or already enrolled)",
              academic_endpoints.enroll, 201, (Enrollment,), body_model=EnrollmentCreate,
              problem_statuses=_CREATE_PROBLEMS, tag="enrollments"),
    Operation("listEnrollments", "GET", "/offerings/{offering_id}/enrollments",
              "The offering's roster, by enrollment id (teachers: only for offerings they teach)",
              academic_endpoints.list_enrollments, 200, (RosterPage,), query_model=PageQuery,
              problem_statuses=_LIST_PROBLEMS, tag="enrollments"),
    Operation("getEnrollment", "GET", "/enrollments/{enrollment_id}",
              "One enrollment (teachers: of offerings they teach; students: their own)",
              academic_endpoints.get_enrollment, 200, (Enrollment,), problem_statuses=_ONE_PROBLEMS,
              tag="enrollments"),
    Operation("dropEnrollment", "PATCH", "/enrollments/{enrollment_id}",
              "Drop an enrollment, freeing its seat; If-Match (or version) guards against lost updates",
              academic_endpoints.drop_enrollment, 200, (Enrollment,), body_model=EnrollmentPatch,
              problem_statuses=_PATCH_PROBLEMS, tag="enrollments"),
    Operation("recordGrade", "PUT", "/enrollments/{enrollment_id}/grade",
              "Record or correct the final grade, which completes the enrollment (teachers: offerings they teach)",
              academic_endpoints.record_grade, 200, (Enrollment,), body_model=GradeRecord,
              problem_statuses=_CREATE_PROBLEMS, tag="enrollments"),
    Operation("getGradeScale", "GET", "/grade-scale", "The grades that may be recorded, and their points",
              academic_endpoints.grade_scale, 200, (GradeScale,), problem_statuses=_READ_PROBLEMS, tag="transcripts"),
    Operation("getTranscript", "GET", "/students/{student_id}/transcript",
              "Terms with courses, credits and grades, and the credit-weighted GPA (students: their own)",
              academic_endpoints.transcript, 200, (Transcript,), problem_statuses=_ONE_PROBLEMS,
              tag="transcripts"),
)

_PATTERNS = [(re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", op.path) + "$"), op) for op in OPERATIONS]


def unmatched_route(method: str, path: str) -> Exception:
    """What a request that no operation matches gets: 405 when the path exists with other methods, else 404."""
    allowed = sorted({op.method for pattern, op in _PATTERNS if pattern.match(path)})
    if allowed:
        return MethodNotAllowed(method, allowed)
    return RouteNotFound("no route matches this path")
