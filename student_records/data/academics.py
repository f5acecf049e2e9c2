"""SQL for academic records: courses, terms, offerings, enrollments, grades and transcripts.

As for students, every statement that reads or changes a student's academic record also writes its audit
row, in the same statement. Enrolling, dropping and grading lock the offering's row first (enrolling does so
by taking a seat), so they queue in one order and cannot deadlock one another.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from pydantic import BaseModel

from ..access import Caller
from ..academic_models import (
    Course,
    Enrollment,
    EnrollmentStatus,
    GradeScaleEntry,
    Offering,
    RosterEntry,
    Term,
    Transcript,
)
from ..errors import (
    AlreadyTaken,
    ConstraintViolation,
    DomainError,
    OfferingFull,
    RecordNotFound,
    StateConflict,
    UnknownReference,
)
from .audit import actor, audit_rows, read_audit_rows
from .database import Query
from .prefix_search import like_prefix
from .students import Executor

Model = TypeVar("Model", bound=BaseModel)

_COURSE_COLUMNS = "id, code, title, credits, department, created_at, updated_at, version"
_TERM_COLUMNS = "id, code, starts_on, ends_on, created_at"
_OFFERING_COLUMNS = (
    "id, course_id, term_id, teacher_sub, capacity, enrolled_count, created_at, updated_at, version"
)
_ENROLLMENT_COLUMNS = "id, offering_id, student_id, status, grade, enrolled_at, updated_at, version"
# Columns a partial update may set; the allow-lists are what keep PATCH's dynamic SQL safe.
_COURSE_UPDATABLE = ("code", "title", "credits", "department")
_OFFERING_UPDATABLE = ("teacher_sub", "capacity")

_TAKEN = {
    "courses_code_lower_key": ("code", "another course already has this code"),
    "terms_code_key": ("code", "another term already has this code"),
    "course_offerings_course_term_key": ("term_id", "the course is already offered in this term"),
}
_UNKNOWN = {
    "course_offerings_course_fk": ("course_id", "no such course"),
    "course_offerings_term_fk": ("term_id", "no such term"),
    "enrollments_student_fk": ("student_id", "no such student"),
    "enrollments_grade_fk": ("grade", "not a grade of the grade scale"),
}
_CONFLICTING_CHECKS = {
    "course_offerings_seats_within_capacity": "the capacity cannot be below the seats already taken",
}




def _update_query(name: str, table: str, columns: str, fields: list[str]) -> Query:
    assignments = ", ".join(f"{field} = %({field})s" for field in fields)
    return Query(
        name,
        f"UPDATE {table} SET {assignments}, version = version + 1, updated_at = now()"
        f" WHERE id = %(id)s RETURNING {columns}",
    )


@contextmanager
def _integrity_errors_translated() -> Iterator[None]:
    try:
        yield
    except psycopg.errors.UniqueViolation as error:
        taken = _TAKEN.get(error.diag.constraint_name or "")
        if taken is None:
            raise ConstraintViolation(error.diag.constraint_name or "unique") from error
        raise AlreadyTaken(*taken) from error
    except psycopg.errors.ForeignKeyViolation as error:
        unknown = _UNKNOWN.get(error.diag.constraint_name or "")
        if unknown is None:
            raise ConstraintViolation(error.diag.constraint_name or "reference") from error
        raise UnknownReference(*unknown) from error
    except psycopg.errors.CheckViolation as error:
        reason = _CONFLICTING_CHECKS.get(error.diag.constraint_name or "")
        if reason is None:
            raise ConstraintViolation(error.diag.constraint_name or "unknown") from error
        raise StateConflict(reason) from error


def _validated(rows: list[dict[str, Any]], model: type[Model]) -> list[Model]:
    return [model.model_validate(row) for row in rows]


# Courses

INSERT_COURSE = Query(
    "courses.insert",
    f"""INSERT INTO courses (code, title, credits, department)
        VALUES (%(code)s, %(title)s, %(credits)s, %(department)s) RETURNING {_COURSE_COLUMNS}""",
)
GET_COURSE = Query("courses.get", f"SELECT {_COURSE_COLUMNS} FROM courses WHERE id = %(id)s")
# NO KEY: the lock must not hold up offerings being created for the course meanwhile.
LOCK_COURSE_VERSION = Query(
    "courses.lock_version", "SELECT version FROM courses WHERE id = %(id)s FOR NO KEY UPDATE"
)
DELETE_COURSE = Query("courses.delete", "DELETE FROM courses WHERE id = %(id)s RETURNING id")
LIST_COURSES = Query(
    "courses.list", f"SELECT {_COURSE_COLUMNS} FROM courses WHERE id > %(after)s ORDER BY id LIMIT %(limit)s"
)
SEARCH_COURSES = Query(
    "courses.search",
    f"""SELECT {_COURSE_COLUMNS} FROM courses
        WHERE (lower(code) LIKE %(prefix)s OR lower(title) LIKE %(prefix)s) AND id > %(after)s
        ORDER BY id LIMIT %(limit)s""",
)


class CourseRepository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def insert(self, values: dict[str, Any]) -> Course:
        with _integrity_errors_translated():
            return Course.model_validate(self._executor.fetch_one(INSERT_COURSE, values))

    def get(self, course_id: int) -> Course | None:
        row = self._executor.fetch_one(GET_COURSE, {"id": course_id})
        return None if row is None else Course.model_validate(row)

    def current_version_for_update(self, course_id: int) -> int | None:
        """Locks the row until the transaction ends, so a version check cannot race another writer."""
        row = self._executor.fetch_one(LOCK_COURSE_VERSION, {"id": course_id})
        return None if row is None else row["version"]

    def update(self, course_id: int, changes: dict[str, Any]) -> Course:
        fields = [field for field in _COURSE_UPDATABLE if field in changes]
        query = _update_query("courses.update", "courses", _COURSE_COLUMNS, fields)
        with _integrity_errors_translated():
            row = self._executor.fetch_one(query, {**{field: changes[field] for field in fields}, "id": course_id})
        return Course.model_validate(row)

    def delete(self, course_id: int) -> bool:
        try:
            return self._executor.fetch_one(DELETE_COURSE, {"id": course_id}) is not None
        except psycopg.errors.ForeignKeyViolation as error:
            # Offerings keep it: transcripts show the courses students took.
            raise StateConflict("the course has offerings, so it stays in the catalogue") from error

    def page(self, *, after_id: int, limit: int, prefix: str | None) -> list[Course]:
        params: dict[str, Any] = {"after": after_id, "limit": limit}
        if prefix is None:
            return _validated(self._executor.fetch_all(LIST_COURSES, params), Course)
        return _validated(self._executor.fetch_all(SEARCH_COURSES, {**params, "prefix": like_prefix(prefix)}), Course)


# Terms

INSERT_TERM = Query(
    "terms.insert",
    f"""INSERT INTO terms (code, starts_on, ends_on) VALUES (%(code)s, %(starts_on)s, %(ends_on)s)
        RETURNING {_TERM_COLUMNS}""",
)
GET_TERM = Query("terms.get", f"SELECT {_TERM_COLUMNS} FROM terms WHERE id = %(id)s")
LIST_TERMS = Query(
    "terms.list", f"SELECT {_TERM_COLUMNS} FROM terms WHERE id > %(after)s ORDER BY id LIMIT %(limit)s"
)


class TermRepository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def insert(self, values: dict[str, Any]) -> Term:
        with _integrity_errors_translated():
            return Term.model_validate(self._executor.fetch_one(INSERT_TERM, values))

    def get(self, term_id: int) -> Term | None:
        row = self._executor.fetch_one(GET_TERM, {"id": term_id})
        return None if row is None else Term.model_validate(row)

    def page(self, *, after_id: int, limit: int) -> list[Term]:
        return _validated(self._executor.fetch_all(LIST_TERMS, {"after": after_id, "limit": limit}), Term)


# Offerings

INSERT_OFFERING = Query(
    "offerings.insert",
    f"""INSERT INTO course_offerings (course_id, term_id, teacher_sub, capacity)
        VALUES (%(course_id)s, %(term_id)s, %(teacher_sub)s, %(capacity)s) RETURNING {_OFFERING_COLUMNS}""",
)
GET_OFFERING = Query("offerings.get", f"SELECT {_OFFERING_COLUMNS} FROM course_offerings WHERE id = %(id)s")
# NO KEY, like the seat updates: enrollments referencing the offering need only a key-share lock.
LOCK_OFFERING_VERSION = Query(
    "offerings.lock_version", "SELECT version FROM course_offerings WHERE id = %(id)s FOR NO KEY UPDATE"
)
LIST_OFFERINGS = Query(
    "offerings.list",
    f"SELECT {_OFFERING_COLUMNS} FROM course_offerings WHERE id > %(after)s ORDER BY id LIMIT %(limit)s",
)
LIST_OFFERINGS_BY_TERM = Query(
    "offerings.list_by_term",
    f"""SELECT {_OFFERING_COLUMNS} FROM course_offerings
        WHERE term_id = %(term_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s""",
)


class OfferingRepository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def insert(self, values: dict[str, Any]) -> Offering:
        with _integrity_errors_translated():
            return Offering.model_validate(self._executor.fetch_one(INSERT_OFFERING, values))

    def get(self, offering_id: int) -> Offering | None:
        row = self._executor.fetch_one(GET_OFFERING, {"id": offering_id})
        return None if row is None else Offering.model_validate(row)

    def current_version_for_update(self, offering_id: int) -> int | None:
        row = self._executor.fetch_one(LOCK_OFFERING_VERSION, {"id": offering_id})
        return None if row is None else row["version"]

    def update(self, offering_id: int, changes: dict[str, Any]) -> Offering:
        fields = [field for field in _OFFERING_UPDATABLE if field in changes]
        query = _update_query("offerings.update", "course_offerings", _OFFERING_COLUMNS, fields)
        with _integrity_errors_translated():
            row = self._executor.fetch_one(query, {**{field: changes[field] for field in fields}, "id": offering_id})
        return Offering.model_validate(row)

    def page(self, *, after_id: int, limit: int, term_id: int | None) -> list[Offering]:
        params: dict[str, Any] = {"after": after_id, "limit": limit}
        if term_id is None:
            return _validated(self._executor.fetch_all(LIST_OFFERINGS, params), Offering)
        return _validated(self._executor.fetch_all(LIST_OFFERINGS_BY_TERM, {**params, "term_id": term_id}), Offering)


# Enrollments

# Takes a seat and enrolls in one statement: the seat UPDATE waits for any concurrent enrollment into the
# offering to commit and then re-reads enrolled_count, so the last seat goes to exactly one request. A
# student who dropped the offering is enrolled again; one enrolled or completed already gets no row back,
# and the caller rolls the seat back.
ENROLL = Query(
    "enrollments.enroll",
    f"""WITH seat AS (
            UPDATE course_offerings SET enrolled_count = enrolled_count + 1
            WHERE id = %(offering_id)s AND enrolled_count < capacity
            RETURNING id),
        enrolled AS (
            INSERT INTO enrollments AS existing (offering_id, student_id)
            SELECT id, %(student_id)s FROM seat
            ON CONFLICT (student_id, offering_id) DO UPDATE
                SET status = 'enrolled', enrolled_at = now(), updated_at = now(), version = existing.version + 1
                WHERE existing.status = 'dropped'
            RETURNING {_ENROLLMENT_COLUMNS}),
        {audit_rows("enroll", "enrolled", "student_id")}
        SELECT * FROM enrolled""",
)
# Why an enrollment was refused: no such offering, already enrolled, or no seat left.
ENROLLMENT_REFUSAL = Query(
    "enrollments.refusal",
    """SELECT o.id, e.status AS existing_status
       FROM course_offerings o
       LEFT JOIN enrollments e ON e.offering_id = o.id AND e.student_id = %(student_id)s
       WHERE o.id = %(offering_id)s""",
)
# Who may see an enrollment, looked up (and not audited) before the audited read.
ENROLLMENT_PARTIES = Query(
    "enrollments.parties",
    """SELECT e.student_id, o.teacher_sub
       FROM enrollments e JOIN course_offerings o ON o.id = e.offering_id WHERE e.id = %(id)s""",
)
GET_ENROLLMENT = Query(
    "enrollments.get",
    f"""WITH found AS (SELECT {_ENROLLMENT_COLUMNS} FROM enrollments WHERE id = %(id)s),
        {read_audit_rows("read", "found", "student_id")}
        SELECT * FROM found""",
    audits_read=True,
)
ROSTER = Query(
    "enrollments.roster",
    f"""WITH found AS (
            SELECT e.id, e.offering_id, e.student_id, e.status, e.grade, e.enrolled_at, e.updated_at, e.version,
                   s.student_number, s.first_name, s.last_name
            FROM enrollments e JOIN students s ON s.id = e.student_id
            WHERE e.offering_id = %(offering_id)s AND e.id > %(after)s ORDER BY e.id LIMIT %(limit)s),
        {read_audit_rows("list", "found", "student_id")}
        SELECT * FROM found ORDER BY id""",
    audits_read=True,
)
LOCK_OFFERING_OF_ENROLLMENT = Query(
    "enrollments.lock_offering",
    """SELECT e.status, e.version, o.teacher_sub
       FROM enrollments e JOIN course_offerings o ON o.id = e.offering_id
       WHERE e.id = %(id)s FOR NO KEY UPDATE OF o""",
)
DROP = Query(
    "enrollments.drop",
    f"""WITH dropped AS (
            UPDATE enrollments SET status = 'dropped', version = version + 1, updated_at = now()
            WHERE id = %(id)s AND status = 'enrolled'
            RETURNING {_ENROLLMENT_COLUMNS}),
        freed AS (
            UPDATE course_offerings SET enrolled_count = enrolled_count - 1
            WHERE id IN (SELECT offering_id FROM dropped)),
        {audit_rows("drop", "dropped", "student_id")}
        SELECT * FROM dropped""",
)
# A grade completes the enrollment; the seat stays taken (it was used).
RECORD_GRADE = Query(
    "enrollments.grade",
    f"""WITH graded AS (
            UPDATE enrollments SET grade = %(grade)s, status = 'completed', version = version + 1, updated_at = now()
            WHERE id = %(id)s AND status <> 'dropped'
            RETURNING {_ENROLLMENT_COLUMNS}),
        {audit_rows("grade", "graded", "student_id")}
        SELECT * FROM graded""",
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


class EnrollmentRepository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def enroll(self, caller: Caller, offering_id: int, student_id: int) -> Enrollment | None:
        """None when refused (see refusal()); the caller must then roll back the seat taken, if any."""
        with _integrity_errors_translated():
            row = self._executor.fetch_one(
                ENROLL, {"offering_id": offering_id, "student_id": student_id, **actor(caller)}
            )
        return None if row is None else Enrollment.model_validate(row)

    def refusal(self, offering_id: int, student_id: int) -> DomainError:
        """Why enroll() returned None: no such offering, already enrolled, or no seat left."""
        row = self._executor.fetch_one(ENROLLMENT_REFUSAL, {"offering_id": offering_id, "student_id": student_id})
        if row is None:
            return RecordNotFound("offering", offering_id)
        if row["existing_status"] in (EnrollmentStatus.ENROLLED, EnrollmentStatus.COMPLETED):
            return AlreadyTaken("student_id", f"the student is already {row['existing_status']} in this offering")
        return OfferingFull(offering_id)

    def parties(self, enrollment_id: int) -> EnrollmentParties | None:
        row = self._executor.fetch_one(ENROLLMENT_PARTIES, {"id": enrollment_id})
        return None if row is None else EnrollmentParties(row["student_id"], row["teacher_sub"])

    def get(self, caller: Caller, enrollment_id: int) -> Enrollment | None:
        row = self._executor.fetch_one(GET_ENROLLMENT, {"id": enrollment_id, **actor(caller)})
        return None if row is None else Enrollment.model_validate(row)

    def roster(self, caller: Caller, offering_id: int, *, after_id: int, limit: int) -> list[RosterEntry]:
        rows = self._executor.fetch_all(
            ROSTER, {"offering_id": offering_id, "after": after_id, "limit": limit, **actor(caller)}
        )
        return _validated(rows, RosterEntry)

    def lock_offering_of(self, enrollment_id: int) -> LockedEnrollment | None:
        """Locks the enrollment's offering until the transaction ends: changes to its enrollments queue."""
        row = self._executor.fetch_one(LOCK_OFFERING_OF_ENROLLMENT, {"id": enrollment_id})
        if row is None:
            return None
        return LockedEnrollment(EnrollmentStatus(row["status"]), row["version"], row["teacher_sub"])

    def drop(self, caller: Caller, enrollment_id: int) -> Enrollment | None:
        """Drops an enrolled enrollment and frees its seat; None when there is no enrolled one."""
        row = self._executor.fetch_one(DROP, {"id": enrollment_id, **actor(caller)})
        return None if row is None else Enrollment.model_validate(row)

    def record_grade(self, caller: Caller, enrollment_id: int, grade: str) -> Enrollment | None:
        """None when there is no such enrollment that is not dropped; UnknownReference when the grade is not
        on the grade scale."""
        with _integrity_errors_translated():
            row = self._executor.fetch_one(RECORD_GRADE, {"id": enrollment_id, "grade": grade, **actor(caller)})
        return None if row is None else Enrollment.model_validate(row)


# Transcripts and the grade scale

# The whole transcript in one statement, GPAs included: credit-weighted over graded (so completed)
# enrollments, per term and overall, rounded to two decimals. No row when the student does not exist.
TRANSCRIPT = Query(
    "transcripts.get",
    f"""WITH student AS (SELECT id AS student_id, student_number FROM students WHERE id = %(student_id)s),
        {read_audit_rows("transcript", "student", "student_id")},
        lines AS (
            SELECT t.id AS term_id, t.code AS term_code, t.starts_on, t.ends_on,
                   e.id AS enrollment_id, c.id AS course_id, c.code, c.title, c.credits, e.status, e.grade, g.points
            FROM enrollments e
            JOIN course_offerings o ON o.id = e.offering_id
            JOIN courses c ON c.id = o.course_id
            JOIN terms t ON t.id = o.term_id
            LEFT JOIN grade_scale g ON g.grade = e.grade
            WHERE e.student_id = %(student_id)s),
        by_term AS (
            SELECT term_id, term_code, starts_on, ends_on,
                   json_agg(json_build_object(
                       'enrollment_id', enrollment_id, 'course_id', course_id, 'code', code, 'title', title,
                       'credits', credits, 'status', status, 'grade', grade, 'points', points
                   ) ORDER BY lower(code), enrollment_id) AS courses,
                   sum(points * credits) AS grade_points,
                   coalesce(sum(credits) FILTER (WHERE points IS NOT NULL), 0) AS graded_credits
            FROM lines GROUP BY term_id, term_code, starts_on, ends_on)
        SELECT s.student_id, s.student_number,
               round(sum(t.grade_points) / nullif(sum(t.graded_credits), 0), 2) AS gpa,
               coalesce(sum(t.graded_credits), 0) AS graded_credits,
               coalesce(json_agg(json_build_object(
                   'term_id', t.term_id, 'code', t.term_code, 'starts_on', t.starts_on, 'ends_on', t.ends_on,
                   'courses', t.courses, 'graded_credits', t.graded_credits,
                   'gpa', round(t.grade_points / nullif(t.graded_credits, 0), 2)
               ) ORDER BY t.starts_on, t.term_id) FILTER (WHERE t.term_id IS NOT NULL), '[]') AS terms
        FROM student s LEFT JOIN by_term t ON true
        GROUP BY s.student_id, s.student_number""",
    audits_read=True,
)
GRADE_SCALE = Query("grades.scale", "SELECT grade, points FROM grade_scale ORDER BY points DESC, grade")


class TranscriptRepository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def transcript(self, caller: Caller, student_id: int) -> Transcript | None:
        row = self._executor.fetch_one(TRANSCRIPT, {"student_id": student_id, **actor(caller)})
        return None if row is None else Transcript.model_validate(row)

    def grade_scale(self) -> list[GradeScaleEntry]:
        return _validated(self._executor.fetch_all(GRADE_SCALE), GradeScaleEntry)
