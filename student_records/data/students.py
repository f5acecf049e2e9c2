"""SQL for the students table."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from ..errors import ConstraintViolation, DuplicateStudent
from ..models import Student, StudentStatus
from .database import Database, Query, Session

_COLUMNS = (
    "id, student_number, first_name, last_name, email, date_of_birth, status,"
    " enrolled_on, created_at, updated_at, version"
)
_UNIQUE_FIELD_BY_CONSTRAINT = {
    "students_email_lower_key": "email",
    "students_student_number_key": "student_number",
}
# Columns a partial update may set; the allow-list is what keeps PATCH's dynamic SQL safe.
_UPDATABLE = ("first_name", "last_name", "email", "date_of_birth", "status", "enrolled_on")

INSERT = Query(
    "students.insert",
    f"""INSERT INTO students (student_number, first_name, last_name, email, date_of_birth, status, enrolled_on)
        VALUES (%(student_number)s, %(first_name)s, %(last_name)s, %(email)s, %(date_of_birth)s, %(status)s,
                coalesce(%(enrolled_on)s, current_date))
        RETURNING {_COLUMNS}""",
)
GET = Query("students.get", f"SELECT {_COLUMNS} FROM students WHERE id = %(id)s")
GET_VERSION_FOR_UPDATE = Query(
    "students.lock_version", "SELECT version FROM students WHERE id = %(id)s FOR UPDATE"
)
DELETE = Query("students.delete", "DELETE FROM students WHERE id = %(id)s")
COUNT = Query("students.count", "SELECT row_count FROM row_counts WHERE table_name = 'students'")

_SEARCH = (
    "(lower(first_name) LIKE %(prefix)s OR lower(last_name) LIKE %(prefix)s OR lower(email) LIKE %(prefix)s)"
)
_PAGE = "ORDER BY id LIMIT %(limit)s"
# One statement per filter combination: each keeps a plan fit for its own indexes.
LIST = Query("students.list", f"SELECT {_COLUMNS} FROM students WHERE id > %(after)s {_PAGE}")
LIST_BY_STATUS = Query(
    "students.list_by_status",
    f"SELECT {_COLUMNS} FROM students WHERE status = %(status)s AND id > %(after)s {_PAGE}",
)
SEARCH = Query("students.search", f"SELECT {_COLUMNS} FROM students WHERE {_SEARCH} AND id > %(after)s {_PAGE}")
SEARCH_BY_STATUS = Query(
    "students.search_by_status",
    f"SELECT {_COLUMNS} FROM students WHERE status = %(status)s AND {_SEARCH} AND id > %(after)s {_PAGE}",
)


def _update_query(fields: list[str]) -> Query:
    assignments = ", ".join(f"{field} = %({field})s" for field in fields)
    return Query(
        "students.update",
        f"""UPDATE students SET {assignments}, version = version + 1, updated_at = now()
            WHERE id = %(id)s RETURNING {_COLUMNS}""",
    )


def _like_prefix(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class StudentRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def insert(self, values: dict[str, Any]) -> Student:
        with _translate_integrity_errors():
            row = self._database.fetch_one(INSERT, values)
        return Student.model_validate(row)

    def get(self, student_id: int) -> Student | None:
        row = self._database.fetch_one(GET, {"id": student_id})
        return None if row is None else Student.model_validate(row)

    def delete(self, student_id: int) -> bool:
        return self._database.execute(DELETE, {"id": student_id}) == 1

    def count(self) -> int:
        row = self._database.fetch_one(COUNT)
        return int(row["row_count"]) if row else 0

    def page(self, *, after_id: int, limit: int, status: StudentStatus | None, prefix: str | None) -> list[Student]:
        params: dict[str, Any] = {"after": after_id, "limit": limit}
        if status is not None:
            params["status"] = status.value
        if prefix is not None:
            params["prefix"] = _like_prefix(prefix)
        query = {
            (False, False): LIST,
            (True, False): LIST_BY_STATUS,
            (False, True): SEARCH,
            (True, True): SEARCH_BY_STATUS,
        }[(status is not None, prefix is not None)]
        return [Student.model_validate(row) for row in self._database.fetch_all(query, params)]

    @contextmanager
    def locked(self, student_id: int) -> Iterator["LockedStudent"]:
        """Holds the row lock for a read-check-write, so a version check cannot race another writer."""
        with _translate_integrity_errors(), self._database.transaction() as session:
            yield LockedStudent(session, student_id)


class LockedStudent:
    def __init__(self, session: Session, student_id: int) -> None:
        self._session = session
        self.student_id = student_id

    def current_version(self) -> int | None:
        row = self._session.fetch_one(GET_VERSION_FOR_UPDATE, {"id": self.student_id})
        return None if row is None else row["version"]

    def update(self, changes: dict[str, Any]) -> Student:
        fields = [field for field in _UPDATABLE if field in changes]
        values = {field: _column_value(changes[field]) for field in fields}
        row = self._session.fetch_one(_update_query(fields), {**values, "id": self.student_id})
        return Student.model_validate(row)


def _column_value(value: Any) -> Any:
    return value.value if isinstance(value, StudentStatus) else value


@contextmanager
def _translate_integrity_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.errors.UniqueViolation as error:
        field = _UNIQUE_FIELD_BY_CONSTRAINT.get(error.diag.constraint_name or "", "unique value")
        raise DuplicateStudent(field) from error
    except psycopg.errors.CheckViolation as error:
        raise ConstraintViolation(error.diag.constraint_name or "unknown") from error
