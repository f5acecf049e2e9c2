"""Academic records in the database: the rules it enforces whatever the client, seat counts kept exact when
enrollments disappear, and the capacity held by the service under 32 concurrent enrollments."""

import psycopg
import pytest

from student_records.access import Caller, Role
from student_records.enrollments.models import EnrollmentCreate
from student_records.enrollments.service import EnrollmentService
from student_records.errors import AlreadyTaken, OfferingFull
from student_records.paging import Pager
from tests.concurrency import run_concurrently

REGISTRAR = Caller("registrar-1", Role.REGISTRAR, "test-correlation-id")


def _students(db, count: int) -> list[int]:
    return [
        db.execute(
            "INSERT INTO students (first_name, last_name, email) VALUES ('F', 'L', %s) RETURNING id",
            (f"s{index}@example.org",),
        ).fetchone()[0]
        for index in range(count)
    ]


def _offering(db, capacity: int) -> int:
    course = db.execute(
        "INSERT INTO courses (code, title, credits, department) VALUES ('CS-101', 'Programming', 3, 'CS') RETURNING id"
    ).fetchone()[0]
    term = db.execute(
        "INSERT INTO terms (code, starts_on, ends_on) VALUES ('2026-FALL', '2026-09-01', '2026-12-18') RETURNING id"
    ).fetchone()[0]
    return db.execute(
        "INSERT INTO course_offerings (course_id, term_id, teacher_sub, capacity)"
        " VALUES (%s, %s, 'teacher-1', %s) RETURNING id",
        (course, term, capacity),
    ).fetchone()[0]


def _seats_taken(db, offering: int) -> int:
    return db.execute("SELECT enrolled_count FROM course_offerings WHERE id = %s", (offering,)).fetchone()[0]


def test_32_concurrent_enrollments_into_the_last_seat_at_the_service(db, database):
    # Given an offering with one seat and 32 students
    offering, students = _offering(db, capacity=1), _students(db, 32)
    service = EnrollmentService(database, Pager(b"test-cursor-signing-key"))
    # When all of them enroll at once
    outcomes = run_concurrently(
        32,
        lambda index: service.enroll(REGISTRAR, offering, EnrollmentCreate(student_id=students[index])),
        expected=(OfferingFull, AlreadyTaken),
    )
    # Then exactly one is enrolled, the 31 others are refused as full, and the seat count agrees
    assert sum(not isinstance(outcome, Exception) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, OfferingFull) for outcome in outcomes) == 31
    assert _seats_taken(db, offering) == 1
    assert db.execute("SELECT count(*) FROM enrollments").fetchone()[0] == 1


def test_concurrent_enrollments_fill_an_offering_exactly(db, database):
    offering, students = _offering(db, capacity=10), _students(db, 32)
    service = EnrollmentService(database, Pager(b"test-cursor-signing-key"))
    outcomes = run_concurrently(
        32,
        lambda index: service.enroll(REGISTRAR, offering, EnrollmentCreate(student_id=students[index])),
        expected=(OfferingFull, AlreadyTaken),
    )
    assert sum(isinstance(outcome, OfferingFull) for outcome in outcomes) == 22
    assert _seats_taken(db, offering) == 10 == db.execute("SELECT count(*) FROM enrollments").fetchone()[0]


def test_the_database_refuses_overbooking_whatever_the_client(db):
    # Given a full offering
    offering = _offering(db, capacity=1)
    db.execute("UPDATE course_offerings SET enrolled_count = 1 WHERE id = %s", (offering,))
    # When a seat is taken past the capacity, or the capacity cut below the seats taken
    # Then the database refuses both
    for statement in (
        "UPDATE course_offerings SET enrolled_count = 2 WHERE id = %s",
        "UPDATE course_offerings SET capacity = 0 WHERE id = %s",
    ):
        with pytest.raises(psycopg.errors.CheckViolation):
            db.execute(statement, (offering,))


@pytest.mark.parametrize(
    ("status", "grade"), [("completed", None), ("enrolled", "A"), ("dropped", "B"), ("enrolled", "Z"), ("passed", None)]
)
def test_grades_are_on_the_scale_and_present_exactly_when_completed(db, status, grade):
    offering, (student,) = _offering(db, capacity=5), _students(db, 1)
    with pytest.raises((psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation)):
        db.execute(
            "INSERT INTO enrollments (offering_id, student_id, status, grade) VALUES (%s, %s, %s, %s)",
            (offering, student, status, grade),
        )


def test_one_enrollment_per_student_and_offering(db):
    offering, (student,) = _offering(db, capacity=5), _students(db, 1)
    db.execute("INSERT INTO enrollments (offering_id, student_id) VALUES (%s, %s)", (offering, student))
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(
            "INSERT INTO enrollments (offering_id, student_id, status) VALUES (%s, %s, 'dropped')", (offering, student)
        )


def test_removed_enrollments_give_their_seats_back(db):
    # Given an offering with three seats taken (one of them completed) and a dropped enrollment
    offering, students = _offering(db, capacity=5), _students(db, 4)
    for student, status, grade in zip(
        students, ("enrolled", "enrolled", "completed", "dropped"), (None, None, "A", None), strict=True
    ):
        db.execute(
            "INSERT INTO enrollments (offering_id, student_id, status, grade) VALUES (%s, %s, %s, %s)",
            (offering, student, status, grade),
        )
    db.execute("UPDATE course_offerings SET enrolled_count = 3 WHERE id = %s", (offering,))
    # When students are deleted (their enrollments with them), the dropped one among them
    db.execute("DELETE FROM students WHERE id = ANY(%s)", ([students[0], students[3]],))
    # Then only the seat that was taken is given back
    assert _seats_taken(db, offering) == 2
    # And emptying the enrollments frees every seat
    db.execute("TRUNCATE enrollments")
    assert _seats_taken(db, offering) == 0


def test_course_codes_are_unique_whatever_their_case(db):
    _offering(db, capacity=1)
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute("INSERT INTO courses (code, title, credits, department) VALUES ('cs-101', 'Again', 3, 'CS')")


def test_audit_rows_name_academic_actions_only_from_the_list(db):
    for action in ("enroll", "drop", "grade", "transcript"):
        db.execute(
            "INSERT INTO student_audit (actor, actor_role, action, student_id, correlation_id)"
            " VALUES ('a', 'registrar', %s, 1, 'c')",
            (action,),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute(
            "INSERT INTO student_audit (actor, actor_role, action, student_id, correlation_id)"
            " VALUES ('a', 'registrar', 'peek', 1, 'c')"
        )
