"""SQL of enrollments and grades. Every statement that reads or changes an enrollment also writes its audit row,
in the same statement (data/auditing.py). Enrolling, dropping and grading lock the offering's row first (enrolling
does so by taking a seat), so they queue in one order and cannot deadlock one another."""

from dataclasses import dataclass
from functools import partial
from typing import LiteralString

from psycopg import sql

from ..access import Caller
from ..data.auditing import actor, audited, read_audited
from ..data.database import Query
from ..data.integrity import integrity_errors_translated
from ..data.repository import Repository
from ..data.sql import column_list
from ..errors import AlreadyTaken, DomainError, OfferingFull, RecordNotFound, UnknownReference
from .models import Enrollment, EnrollmentStatus, RosterEntry

COLUMNS = ("id", "offering_id", "student_id", "status", "grade", "enrolled_at", "updated_at", "version")
REFUSALS = {
    "enrollments_student_fk": partial(UnknownReference, "student_id", "no such student"),
    "enrollments_grade_fk": partial(UnknownReference, "grade", "not a grade of the grade scale"),
}


def _audited_change(action: str, changed: str, ctes: LiteralString) -> Query:
    """The statement `enrollments.<action>`: `ctes` (a WITH list) changes enrollments, its CTE `changed` returning the
    {columns} of the rows changed; it writes an `action` audit row per row for its student and returns those rows."""
    statement = sql.SQL("WITH {ctes},\n        {audit}\n        SELECT * FROM {changed}").format(
        ctes=sql.SQL(ctes).format(columns=column_list(COLUMNS)),
        audit=audited(action, changed, "student_id"),
        changed=sql.Identifier(changed),
    )
    return Query(f"enrollments.{action}", statement)


# Takes a seat and enrolls in one statement: the seat UPDATE waits for any concurrent enrollment into the
# offering to commit and then re-reads enrolled_count, so the last seat goes to exactly one request. A
# student who dropped the offering is enrolled again; one enrolled or completed already gets no row back,
# and the caller rolls the seat back.
ENROLL = _audited_change(
    "enroll",
    "enrolled",
    """seat AS (
            UPDATE course_offerings SET enrolled_count = enrolled_count + 1
            WHERE id = %(offering_id)s AND enrolled_count < capacity
            RETURNING id),
        enrolled AS (
            INSERT INTO enrollments AS existing (offering_id, student_id)
            SELECT id, %(student_id)s FROM seat
            ON CONFLICT (student_id, offering_id) DO UPDATE
                SET status = 'enrolled', enrolled_at = now(), updated_at = now(), version = existing.version + 1
                WHERE existing.status = 'dropped'
            RETURNING {columns})""",
)
# Why an enrollment was refused: no such offering, already enrolled, or no seat left.
REFUSAL = Query(
    "enrollments.refusal",
    """SELECT o.id, e.status AS existing_status
       FROM course_offerings o
       LEFT JOIN enrollments e ON e.offering_id = o.id AND e.student_id = %(student_id)s
       WHERE o.id = %(offering_id)s""",
)
# Who may see an enrollment, looked up (and not audited) before the audited read.
PARTIES = Query(
    "enrollments.parties",
    """SELECT e.student_id, o.teacher_sub
       FROM enrollments e JOIN course_offerings o ON o.id = e.offering_id WHERE e.id = %(id)s""",
)
# Who may read an offering's roster, looked up before the audited read.
OFFERING_TEACHER = Query(
    "enrollments.offering_teacher", "SELECT teacher_sub FROM course_offerings WHERE id = %(offering_id)s"
)
GET = Query(
    "enrollments.get",
    sql.SQL(
        """WITH found AS (SELECT {columns} FROM enrollments WHERE id = %(id)s),
        {audit}
        SELECT * FROM found"""
    ).format(columns=column_list(COLUMNS), audit=read_audited("read", "found", "student_id")),
    audits_read=True,
)
ROSTER = Query(
    "enrollments.roster",
    sql.SQL(
        """WITH found AS (
            SELECT e.id, e.offering_id, e.student_id, e.status, e.grade, e.enrolled_at, e.updated_at, e.version,
                   s.student_number, s.first_name, s.last_name
            FROM enrollments e JOIN students s ON s.id = e.student_id
            WHERE e.offering_id = %(offering_id)s AND e.id > %(after)s ORDER BY e.id LIMIT %(limit)s),
        {audit}
        SELECT * FROM found ORDER BY id"""
    ).format(audit=read_audited("list", "found", "student_id")),
    audits_read=True,
)
LOCK_OFFERING = Query(
    "enrollments.lock_offering",
    """SELECT e.status, e.version, o.teacher_sub
       FROM enrollments e JOIN course_offerings o ON o.id = e.offering_id
       WHERE e.id = %(id)s FOR NO KEY UPDATE OF o""",
)
DROP = _audited_change(
    "drop",
    "dropped",
    """dropped AS (
            UPDATE enrollments SET status = 'dropped', version = version + 1, updated_at = now()
            WHERE id = %(id)s AND status = 'enrolled'
            RETURNING {columns}),
        freed AS (
            UPDATE course_offerings SET enrolled_count = enrolled_count - 1
            WHERE id IN (SELECT offering_id FROM dropped))""",
)
# A grade completes the enrollment; the seat stays taken (it was used).
RECORD_GRADE = _audited_change(
    "grade",
    "graded",
    """graded AS (
            UPDATE enrollments SET grade = %(grade)s, status = 'completed', version = version + 1, updated_at = now()
            WHERE id = %(id)s AND status <> 'dropped'
            RETURNING {columns})""",
)


@dataclass(frozen=True)
class EnrollmentParties:
    student_id: int
    teacher_sub: str


@dataclass(frozen=True)
class LockedEnrollment:
    status: EnrollmentStatus
    version: int
    teacher_sub: str


class EnrollmentRepository(Repository):
    def enroll(self, caller: Caller, offering_id: int, student_id: int) -> Enrollment | None:
        """None when refused (see refusal()); the caller must then roll back the seat taken, if any."""
        with integrity_errors_translated(REFUSALS):
            return self._one(
                Enrollment, ENROLL, {"offering_id": offering_id, "student_id": student_id, **actor(caller)}
            )

    def refusal(self, offering_id: int, student_id: int) -> DomainError:
        """Why enroll() returned None: no such offering, already enrolled, or no seat left."""
        row = self._executor.fetch_one(REFUSAL, {"offering_id": offering_id, "student_id": student_id})
        if row is None:
            return RecordNotFound("offering", offering_id)
        if row["existing_status"] in (EnrollmentStatus.ENROLLED, EnrollmentStatus.COMPLETED):
            return AlreadyTaken("student_id", f"the student is already {row['existing_status']} in this offering")
        return OfferingFull(offering_id)

    def parties(self, enrollment_id: int) -> EnrollmentParties | None:
        row = self._executor.fetch_one(PARTIES, {"id": enrollment_id})
        return None if row is None else EnrollmentParties(row["student_id"], row["teacher_sub"])

    def offering_teacher(self, offering_id: int) -> str | None:
        """The teacher of the offering; None when there is no such offering."""
        row = self._executor.fetch_one(OFFERING_TEACHER, {"offering_id": offering_id})
        return None if row is None else row["teacher_sub"]

    def get(self, caller: Caller, enrollment_id: int) -> Enrollment | None:
        return self._one(Enrollment, GET, {"id": enrollment_id, **actor(caller)})

    def roster(self, after_id: int, limit: int, *, caller: Caller, offering_id: int) -> list[RosterEntry]:
        return self._all(
            RosterEntry, ROSTER, {"offering_id": offering_id, "after": after_id, "limit": limit, **actor(caller)}
        )

    def lock_offering_of(self, enrollment_id: int) -> LockedEnrollment | None:
        """Locks the enrollment's offering until the transaction ends: changes to its enrollments queue."""
        row = self._executor.fetch_one(LOCK_OFFERING, {"id": enrollment_id})
        if row is None:
            return None
        return LockedEnrollment(EnrollmentStatus(row["status"]), row["version"], row["teacher_sub"])

    def drop(self, caller: Caller, enrollment_id: int) -> Enrollment | None:
        """Drops an enrolled enrollment and frees its seat; None when there is no enrolled one."""
        return self._one(Enrollment, DROP, {"id": enrollment_id, **actor(caller)})

    def record_grade(self, caller: Caller, enrollment_id: int, grade: str) -> Enrollment | None:
        """None when there is no such enrollment that is not dropped; UnknownReference when the grade is not
        on the grade scale."""
        with integrity_errors_translated(REFUSALS):
            return self._one(Enrollment, RECORD_GRADE, {"id": enrollment_id, "grade": grade, **actor(caller)})
