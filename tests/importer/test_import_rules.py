"""The import's rules are the API's: the same model decides, on the same text, and only writers import."""

import io
import json

import pytest
from pydantic import ValidationError

from student_records.access import Caller, Role
from student_records.errors import AccessDenied
from student_records.students.importer import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, ImportRefused, import_students
from student_records.students.models import StudentCreate

REGISTRAR = Caller(subject="import:test", role=Role.REGISTRAR, correlation_id="import-test")
# Values at the edges of the rules, each tried in the column it belongs to.
EDGE_VALUES = {
    "first_name": ["Zoë", "  padded  ", " ", "A\tB", "x" * 100, "x" * 101],
    "email": ["A@B.CO", " a@b.co ", "a@b", "a b@c.de", "é@ü.de"],
    "student_number": ["ABC-123", "S12345678", "S1234567", "abc", "AB"],
    "date_of_birth": ["1990-12-10", "1990-02-30", "1899-12-31", "2999-01-01", "1990-12-10T00:00:00", "0"],
    "status": ["active", "ACTIVE", " graduated", "withdrawn"],
    "enrolled_on": ["2024-09-01", "2100-01-02", "2024-9-1"],
}
CASES = [(column, value) for column, values in EDGE_VALUES.items() for value in values]


def _csv(header, *rows) -> io.StringIO:
    return io.StringIO("\n".join(",".join(cells) for cells in (header, *rows)) + "\n")


def test_the_columns_are_the_fields_a_client_may_send():
    # Given the fields of a POST /students body
    fields = StudentCreate.model_fields

    # Then the importer reads exactly those columns, and requires the fields the API requires
    assert set(REQUIRED_COLUMNS + OPTIONAL_COLUMNS) == set(fields)
    assert set(REQUIRED_COLUMNS) == {name for name, field in fields.items() if field.is_required()}


@pytest.mark.parametrize(("column", "value"), CASES)
def test_a_value_is_accepted_by_the_import_exactly_when_the_api_accepts_it(db, database, column, value):
    # Given a row with one edge value, and the API's verdict on the same value in a JSON body
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org", column: value}
    try:
        StudentCreate.model_validate_json(json.dumps(body))
        api_rejects = set()
    except ValidationError as error:
        api_rejects = {str(detail["loc"][0]) for detail in error.errors()}
    header = (
        ("first_name", "last_name", "email")
        if column in REQUIRED_COLUMNS
        else ("first_name", "last_name", "email", column)
    )
    cells = [f'"{body[name]}"' for name in header]

    # When it is imported
    summary = import_students(database, REGISTRAR, _csv(header, cells))

    # Then the import rejects the same fields the API rejects, and loads the row when the API would
    assert {rejection.field for rejection in summary.rejections} == api_rejects
    assert summary.loaded == (0 if api_rejects else 1)


def test_only_writers_import(db, database):
    # Given a teacher
    teacher = Caller(subject="import:teacher", role=Role.TEACHER, correlation_id="import-test")

    # When they import a file, Then it is refused
    with pytest.raises(AccessDenied):
        import_students(database, teacher, _csv(("first_name", "last_name", "email")))


def test_an_empty_file_is_refused(db, database):
    # Given a file without even a header, When it is imported, Then it is refused
    with pytest.raises(ImportRefused, match="needs a header row"):
        import_students(database, REGISTRAR, io.StringIO(""))
