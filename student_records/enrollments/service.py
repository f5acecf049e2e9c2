"""Use cases of enrollments and grades, a part of the student's academic record: registrars (and admins) enroll
and drop; an offering's teacher reads its roster and grades it; a student reads their own enrollments. Every access
is audited by the statement that makes it."""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from observability import business

from ..access import (
    Caller,
    require_academic_manager,
    require_enrollment_reader,
    require_grading_role,
    require_teacher_of,
)
from ..concurrency import check_version
from ..errors import StateConflict
from ..models import PageQuery
from ..service import Service, found
from .models import Enrollment, EnrollmentCreate, EnrollmentPatch, EnrollmentStatus, GradeRecord, RosterPage
from .repository import EnrollmentRepository, LockedEnrollment


class EnrollmentService(Service):
    def roster(self, caller: Caller, offering_id: int, query: PageQuery) -> RosterPage:
        require_grading_role(caller)
        enrollments = EnrollmentRepository(self._database)
        require_teacher_of(caller, found(enrollments.offering_teacher(offering_id), "offering", offering_id))
        return self._pager.page(
            RosterPage,
            query,
            ("roster", str(offering_id)),
            partial(enrollments.roster, caller=caller, offering_id=offering_id),
        )

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

    def get(self, caller: Caller, enrollment_id: int) -> Enrollment:
        enrollments = EnrollmentRepository(self._database)
        parties = found(enrollments.parties(enrollment_id), "enrollment", enrollment_id)
        require_enrollment_reader(caller, enrollment_id, parties.teacher_sub, parties.student_id)
        return found(enrollments.get(caller, enrollment_id), "enrollment", enrollment_id)  # or deleted meanwhile

    def drop(self, caller: Caller, enrollment_id: int, patch: EnrollmentPatch, if_match: int | None) -> Enrollment:
        require_academic_manager(caller)
        with self._locked(enrollment_id) as (enrollments, current):
            check_version(current.version, if_match, patch.version)
            if current.status is not EnrollmentStatus.ENROLLED:
                raise StateConflict(f"only an enrolled enrollment can be dropped; this one is {current.status}")
            # None: deleted with its student in between
            dropped = found(enrollments.drop(caller, enrollment_id), "enrollment", enrollment_id)
        business.enrollment_dropped()
        return dropped

    def record_grade(self, caller: Caller, enrollment_id: int, data: GradeRecord) -> Enrollment:
        """Records (or corrects) the final grade, which completes the enrollment."""
        require_grading_role(caller)
        with self._locked(enrollment_id) as (enrollments, current):
            require_teacher_of(caller, current.teacher_sub)
            if current.status is EnrollmentStatus.DROPPED:
                raise StateConflict("a dropped enrollment cannot be graded")
            graded = found(enrollments.record_grade(caller, enrollment_id, data.grade), "enrollment", enrollment_id)
        business.grade_recorded()
        return graded

    @contextmanager
    def _locked(self, enrollment_id: int) -> Iterator[tuple[EnrollmentRepository, LockedEnrollment]]:
        """A transaction holding the enrollment's offering locked: changes to its enrollments queue."""
        with self._database.transaction() as session:
            enrollments = EnrollmentRepository(session)
            yield enrollments, found(enrollments.lock_offering_of(enrollment_id), "enrollment", enrollment_id)
