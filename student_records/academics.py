"""Use cases of academic records: the course catalogue, terms, offerings, enrollments, grades and
transcripts. As in service.py, every use case takes the Caller, and every access to a student's academic
record is audited by the statement that makes it."""

from collections.abc import Sequence
from functools import cache
from typing import Protocol

from observability import business

from .academic_models import (
    Course,
    CourseCreate,
    CoursePage,
    CoursePatch,
    Enrollment,
    EnrollmentCreate,
    EnrollmentPatch,
    EnrollmentStatus,
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
from .access import (
    Caller,
    require_academic_manager,
    require_enrollment_reader,
    require_grading_role,
    require_teacher_of,
    require_transcript_reader,
)
from .cursor import decode_cursor, encode_cursor
from .data.academics import (
    CourseRepository,
    EnrollmentRepository,
    OfferingRepository,
    TermRepository,
    TranscriptRepository,
)
from .data.database import Database, get_database
from .errors import RecordNotFound, StateConflict, StudentNotFound, VersionMismatch


def _check_version(current: int, *expected: int | None) -> None:
    for version in expected:
        if version is not None and version != current:
            raise VersionMismatch(version, current)


def _after(cursor: str | None, filters: tuple[str | None, ...]) -> int:
    return decode_cursor(cursor, filters) if cursor else 0


class _Keyed(Protocol):
    id: int


def _next_cursor(rows: Sequence[_Keyed], limit: int, filters: tuple[str | None, ...]) -> str | None:
    # One row more than asked tells whether another page exists without a count.
    return encode_cursor(rows[limit - 1].id, filters) if len(rows) > limit else None


class AcademicService:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._courses = CourseRepository(database)
        self._terms = TermRepository(database)
        self._offerings = OfferingRepository(database)
        self._enrollments = EnrollmentRepository(database)
        self._transcripts = TranscriptRepository(database)

    # The catalogue (courses, terms, offerings, the grade scale) is open to every role.

    def create_course(self, caller: Caller, data: CourseCreate) -> Course:
        require_academic_manager(caller)
        return self._courses.insert(data.model_dump())

    def get_course(self, caller: Caller, course_id: int) -> Course:
        course = self._courses.get(course_id)
        if course is None:
            raise RecordNotFound("course", course_id)
        return course

    def update_course(self, caller: Caller, course_id: int, patch: CoursePatch, if_match: int | None) -> Course:
        require_academic_manager(caller)
        with self._database.transaction() as session:
            courses = CourseRepository(session)
            current = courses.current_version_for_update(course_id)
            if current is None:
                raise RecordNotFound("course", course_id)
            _check_version(current, if_match, patch.version)
            return courses.update(course_id, patch.changes())

    def delete_course(self, caller: Caller, course_id: int) -> None:
        require_academic_manager(caller)
        if not self._courses.delete(course_id):
            raise RecordNotFound("course", course_id)

    def list_courses(self, caller: Caller, query: ListCoursesQuery) -> CoursePage:
        filters = ("courses", query.q)
        rows = self._courses.page(after_id=_after(query.cursor, filters), limit=query.limit + 1, prefix=query.q)
        return CoursePage(items=rows[: query.limit], next_cursor=_next_cursor(rows, query.limit, filters))

    def create_term(self, caller: Caller, data: TermCreate) -> Term:
        require_academic_manager(caller)
        return self._terms.insert(data.model_dump())

    def get_term(self, caller: Caller, term_id: int) -> Term:
        term = self._terms.get(term_id)
        if term is None:
            raise RecordNotFound("term", term_id)
        return term

    def list_terms(self, caller: Caller, query: PageQuery) -> TermPage:
        filters = ("terms",)
        rows = self._terms.page(after_id=_after(query.cursor, filters), limit=query.limit + 1)
        return TermPage(items=rows[: query.limit], next_cursor=_next_cursor(rows, query.limit, filters))

    def create_offering(self, caller: Caller, data: OfferingCreate) -> Offering:
        require_academic_manager(caller)
        return self._offerings.insert(data.model_dump())

    def get_offering(self, caller: Caller, offering_id: int) -> Offering:
        offering = self._offerings.get(offering_id)
        if offering is None:
            raise RecordNotFound("offering", offering_id)
        return offering

    def update_offering(
        self, caller: Caller, offering_id: int, patch: OfferingPatch, if_match: int | None
    ) -> Offering:
        require_academic_manager(caller)
        with self._database.transaction() as session:
            offerings = OfferingRepository(session)
            current = offerings.current_version_for_update(offering_id)
            if current is None:
                raise RecordNotFound("offering", offering_id)
            _check_version(current, if_match, patch.version)
            return offerings.update(offering_id, patch.changes())

    def list_offerings(self, caller: Caller, query: ListOfferingsQuery) -> OfferingPage:
        filters = ("offerings", None if query.term_id is None else str(query.term_id))
        rows = self._offerings.page(
            after_id=_after(query.cursor, filters), limit=query.limit + 1, term_id=query.term_id
        )
        return OfferingPage(items=rows[: query.limit], next_cursor=_next_cursor(rows, query.limit, filters))

    def grade_scale(self, caller: Caller) -> GradeScale:
        return GradeScale(items=self._transcripts.grade_scale())

    # Enrollments, grades and transcripts: the student's academic record.

    def enroll(self, caller: Caller, offering_id: int, data: EnrollmentCreate) -> Enrollment:
        require_academic_manager(caller)
        with self._database.transaction() as session:
            enrollments = EnrollmentRepository(session)
            enrollment = enrollments.enroll(caller, offering_id, data.student_id)
            if enrollment is None:
                # Raising rolls back the seat the statement may have taken for an enrolled student.
                raise enrollments.refusal(offering_id, data.student_id)
        business.enrollment_created()
        return enrollment

    def roster(self, caller: Caller, offering_id: int, query: PageQuery) -> RosterPage:
        require_grading_role(caller)
        offering = self.get_offering(caller, offering_id)
        require_teacher_of(caller, offering.teacher_sub)
        filters = ("roster", str(offering_id))
        rows = self._enrollments.roster(
            caller, offering_id, after_id=_after(query.cursor, filters), limit=query.limit + 1
        )
        return RosterPage(items=rows[: query.limit], next_cursor=_next_cursor(rows, query.limit, filters))

    def get_enrollment(self, caller: Caller, enrollment_id: int) -> Enrollment:
        parties = self._enrollments.parties(enrollment_id)
        if parties is None:
            raise RecordNotFound("enrollment", enrollment_id)
        require_enrollment_reader(caller, enrollment_id, parties.teacher_sub, parties.student_id)
        enrollment = self._enrollments.get(caller, enrollment_id)
        if enrollment is None:  # deleted with its student in between
            raise RecordNotFound("enrollment", enrollment_id)
        return enrollment

    def drop(self, caller: Caller, enrollment_id: int, patch: EnrollmentPatch, if_match: int | None) -> Enrollment:
        require_academic_manager(caller)
        with self._database.transaction() as session:
            enrollments = EnrollmentRepository(session)
            current = enrollments.lock_offering_of(enrollment_id)
            if current is None:
                raise RecordNotFound("enrollment", enrollment_id)
            _check_version(current.version, if_match, patch.version)
            if current.status is not EnrollmentStatus.ENROLLED:
                raise StateConflict(f"only an enrolled enrollment can be dropped; this one is {current.status}")
            dropped = enrollments.drop(caller, enrollment_id)
            if dropped is None:  # deleted with its student in between
                raise RecordNotFound("enrollment", enrollment_id)
        business.enrollment_dropped()
        return dropped

    def record_grade(self, caller: Caller, enrollment_id: int, data: GradeRecord) -> Enrollment:
        """Records (or corrects) the final grade, which completes the enrollment."""
        require_grading_role(caller)
        with self._database.transaction() as session:
            enrollments = EnrollmentRepository(session)
            current = enrollments.lock_offering_of(enrollment_id)
            if current is None:
                raise RecordNotFound("enrollment", enrollment_id)
            require_teacher_of(caller, current.teacher_sub)
            if current.status is EnrollmentStatus.DROPPED:
                raise StateConflict("a dropped enrollment cannot be graded")
            graded = enrollments.record_grade(caller, enrollment_id, data.grade)
            if graded is None:  # deleted with its student in between
                raise RecordNotFound("enrollment", enrollment_id)
        business.grade_recorded()
        return graded

    def transcript(self, caller: Caller, student_id: int) -> Transcript:
        require_transcript_reader(caller, student_id)
        transcript = self._transcripts.transcript(caller, student_id)
        if transcript is None:
            raise StudentNotFound(student_id)
        return transcript


@cache
def get_academic_service() -> AcademicService:
    """The process-wide service over the process-wide database."""
    return AcademicService(get_database())
