"""Constraints live in the database: what the API refuses, SQL written by hand cannot store either."""

import psycopg
import pytest

INSERT = "INSERT INTO students (first_name, last_name, email{extra}) VALUES ('A', 'B', %s{placeholders})"


def _insert(db, email="a@example.org", **extra):
    columns = "".join(f", {name}" for name in extra)
    placeholders = ", %s" * len(extra)
    db.execute(INSERT.format(extra=columns, placeholders=placeholders), (email, *extra.values()))


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"email": "no-at-sign"}, "students_email_format"),
        ({"status": "expelled"}, "students_status_valid"),
        ({"student_number": "lower-case"}, "students_student_number_format"),
        ({"student_number": "S00000042"}, "students_student_number_reserved"),
        ({"date_of_birth": "1850-01-01"}, "students_date_of_birth_range"),
        ({"first_name": "   "}, "students_first_name_length"),
    ],
)
def test_invalid_rows_are_refused(db, values, constraint):
    email = values.pop("email", "a@example.org")
    with pytest.raises(psycopg.errors.CheckViolation) as raised:  # noqa: PT012 - the case chooses the statement
        if "first_name" in values:
            db.execute(
                "INSERT INTO students (first_name, last_name, email) VALUES (%s, 'B', %s)",
                (values["first_name"], email),
            )
        else:
            _insert(db, email, **values)
    assert raised.value.diag.constraint_name == constraint


def test_email_is_unique_whatever_its_case(db):
    _insert(db, "Ada@Example.org")
    with pytest.raises(psycopg.errors.UniqueViolation):
        _insert(db, "ada@example.ORG")


def test_generated_student_numbers_follow_the_sequence(db):
    _insert(db, "one@example.org")
    _insert(db, "two@example.org", student_number="CHOSEN-1")
    _insert(db, "three@example.org")
    numbers = [row[0] for row in db.execute("SELECT student_number FROM students ORDER BY id")]
    assert numbers == ["S00000001", "CHOSEN-1", "S00000002"]


def test_a_number_of_the_generated_form_is_refused_before_the_generator_hands_it_out(db):
    # Given one generated number, S00000001
    _insert(db, "one@example.org")

    # Then the next one cannot be chosen, by an insert or by COPY, so the generator never meets it taken
    with pytest.raises(psycopg.errors.CheckViolation) as raised:
        _insert(db, "two@example.org", student_number="S00000002")
    assert raised.value.diag.constraint_name == "students_student_number_reserved"
    with (
        pytest.raises(psycopg.errors.CheckViolation),
        db.cursor().copy("COPY students (first_name, last_name, email, student_number) FROM STDIN") as copy,
    ):
        copy.write_row(("A", "B", "three@example.org", "S00000009"))
    # And the one handed out is held by its student
    with pytest.raises(psycopg.errors.UniqueViolation):
        _insert(db, "four@example.org", student_number="S00000001")
    _insert(db, "five@example.org")
    assert db.execute("SELECT student_number FROM students WHERE email = 'five@example.org'").fetchone() == (
        "S00000002",
    )
