"""Dates from clients: only YYYY-MM-DD text names a date, and a birth date lies between 1900-01-01 and today."""

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from student_records.students.models import StudentCreate

STUDENT = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}


def _refused_fields(**dates: str) -> set[str]:
    try:
        StudentCreate.model_validate_strings({**STUDENT, **dates})
    except ValidationError as error:
        return {str(detail["loc"][0]) for detail in error.errors()}
    return set()


def test_a_calendar_date_written_yyyy_mm_dd_is_read():
    student = StudentCreate.model_validate_strings(
        {**STUDENT, "date_of_birth": "1992-03-25", "enrolled_on": "2024-09-01"}
    )
    assert (student.date_of_birth, student.enrolled_on) == (date(1992, 3, 25), date(2024, 9, 1))


@pytest.mark.parametrize(
    "text",
    [
        "19920325",  # ISO basic form: fromisoformat reads it
        "1992-W12-3",  # ISO week date: fromisoformat reads it too
        "1992W123",
        "0",
        "86400",  # seconds since 1970: pydantic reads them
        "1992-3-25",
        "1992-03-25 ",
        " 1992-03-25",
        "1992-03-25T00:00",
        "١٩٩٢-٠٣-٢٥",  # digits, but not ASCII ones
        "+992-03-25",
        "1992-02-30",
        "1992/03/25",
        "",
    ],
)
def test_any_other_text_is_refused(text):
    assert _refused_fields(date_of_birth=text, enrolled_on=text) == {"date_of_birth", "enrolled_on"}


def test_a_birth_date_lies_between_1900_and_today():
    today = date.today()  # noqa: DTZ011 - the server's day, which the models check against
    assert _refused_fields(date_of_birth=today.isoformat()) == set()
    assert _refused_fields(date_of_birth="1900-01-01") == set()
    assert _refused_fields(date_of_birth=(today + timedelta(days=1)).isoformat()) == {"date_of_birth"}
    assert _refused_fields(date_of_birth="1899-12-31") == {"date_of_birth"}
