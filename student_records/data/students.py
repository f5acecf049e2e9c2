"""SQL for the students table. Every statement that reads or changes a record also writes its audit
row, in the same statement: one round trip, and the audit commits or rolls back with the change."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg

from ..access import Caller
from ..errors import ConstraintViolation, DuplicateStudent
from ..models import Student, StudentStatus
from .audit import actor, audit_rows, read_audit_rows
from .database import Query
from .prefix_search import like_prefix

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
    f"""WITH inserted AS (
            INSERT INTO students (student_number, first_name, last_name, email, date_of_birth, status, enrolled_on)
            VALUES (coalesce(%(student_number)s, generated_student_number()), %(first_name)s, %(last_name)s,
                    %(email)s, %(date_of_birth)s, %(status)s, coalesce(%(enrolled_on)s, current_date))
            RETURNING {_COLUMNS}),
        {audit_rows("create", "inserted")}
        SELECT * FROM inserted""",
)
GET = Query(
    "students.get",
    f"""WITH found AS (SELECT {_COLUMNS} FROM students WHERE id = %(id)s),
        {read_audit_rows("read", "found")}
        SELECT * FROM found""",
    audits_read=True,
)
GET_VERSION_FOR_UPDATE = Query(
    "students.lock_version", "SELECT version FROM students WHERE id = %(id)s FOR UPDATE"
)
DELETE = Query(
    "students.delete",
    f"""WITH deleted AS (DELETE FROM students WHERE id = %(id)s RETURNING id),
        {audit_rows("delete", "deleted")}
        SELECT count(*) AS deleted FROM deleted""",
)
COUNT = Query("students.count", "SELECT row_count FROM row_counts WHERE table_name = 'students'")

_NAME_PREFIX = "lower(first_name) LIKE %(prefix)s OR lower(last_name) LIKE %(prefix)s"
_NAME_OR_EMAIL_PREFIX = f"({_NAME_PREFIX} OR lower(email) LIKE %(prefix)s)"


def _page(name: str, condition: str) -> Query:
    # One statement per filter combination: each keeps a plan fit for its own indexes.
    return Query(
        name,
        f"""WITH found AS (
                SELECT {_COLUMNS} FROM students WHERE {condition} id > %(after)s ORDER BY id LIMIT %(limit)s),
            {read_audit_rows("list", "found")}
            SELECT * FROM found ORDER BY id""",
        audits_read=True,
    )


LIST = _page("students.list", "")
LIST_BY_STATUS = _page("students.list_by_status", "status = %(status)s AND")
SEARCH = _page("students.search", f"{_NAME_OR_EMAIL_PREFIX} AND")
SEARCH_BY_STATUS = _page("students.search_by_status", f"status = %(status)s AND {_NAME_OR_EMAIL_PREFIX} AND")
# Teachers see no email, so they cannot search by it either.
SEARCH_NAMES = _page("students.search_names", f"({_NAME_PREFIX}) AND")
SEARCH_NAMES_BY_STATUS = _page("students.search_names_by_status", f"status = %(status)s AND ({_NAME_PREFIX}) AND")
_PAGES = {
    # (status filter, prefix search, emails searchable)
    (False, False, True): LIST, (False, False, False): LIST,
    (True, False, True): LIST_BY_STATUS, (True, False, False): LIST_BY_STATUS,
    (False, True, True): SEARCH, (True, True, True): SEARCH_BY_STATUS,
    (False, True, False): SEARCH_NAMES, (True, True, False): SEARCH_NAMES_BY_STATUS,
}


def _update_query(fields: list[str]) -> Query:
    assignments = ", ".join(f"{field} = %({field})s" for field in fields)
    return Query(
        "students.update",
        f"""WITH updated AS (
                UPDATE students SET {assignments}, version = version + 1, updated_at = now()
                WHERE id = %(id)s RETURNING {_COLUMNS}),
            {audit_rows("update", "updated")}
            SELECT * FROM updated""",
    )


class Executor(Protocol):
    """A Database (each statement its own transaction) or a Session (statements of one transaction)."""

    def fetch_one(self, query: Query, params: dict[str, Any] | None = None) -> dict[str, Any] | None: ...
    def fetch_all(self, query: Query, params: dict[str, Any] | None = None) -> list[dict[str, Any]]: ...


class StudentRepository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def insert(self, caller: Caller, values: dict[str, Any]) -> Student:
        with translate_integrity_errors():
            row = self._executor.fetch_one(INSERT, {**values, **actor(caller)})
        return Student.model_validate(row)

    def get(self, caller: Caller, student_id: int) -> Student | None:
        row = self._executor.fetch_one(GET, {"id": student_id, **actor(caller)})
        return None if row is None else Student.model_validate(row)

    def delete(self, caller: Caller, student_id: int) -> bool:
        row = self._executor.fetch_one(DELETE, {"id": student_id, **actor(caller)})
        return bool(row and row["deleted"])

    def count(self) -> int:
        row = self._executor.fetch_one(COUNT)
        return int(row["row_count"]) if row else 0

    def page(
        self, caller: Caller, *, after_id: int, limit: int, status: StudentStatus | None, prefix: str | None,
        search_emails: bool,
    ) -> list[Student]:
        params: dict[str, Any] = {"after": after_id, "limit": limit, **actor(caller)}
        if status is not None:
            params["status"] = status.value
        if prefix is not None:
            params["prefix"] = like_prefix(prefix)
        query = _PAGES[(status is not None, prefix is not None, search_emails)]
        return [Student.model_validate(row) for row in self._executor.fetch_all(query, params)]

    def current_version_for_update(self, student_id: int) -> int | None:
        """Locks the row until the transaction ends, so a version check cannot race another writer."""
        row = self._executor.fetch_one(GET_VERSION_FOR_UPDATE, {"id": student_id})
        return None if row is None else row["version"]

    def update(self, caller: Caller, student_id: int, changes: dict[str, Any]) -> Student:
        fields = [field for field in _UPDATABLE if field in changes]
        values = {field: _column_value(changes[field]) for field in fields}
        with translate_integrity_errors():
            row = self._executor.fetch_one(_update_query(fields), {**values, "id": student_id, **actor(caller)})
        return Student.model_validate(row)


def _column_value(value: Any) -> Any:
    return value.value if isinstance(value, StudentStatus) else value


@contextmanager
def translate_integrity_errors() -> Iterator[None]:
    try:
        yield
    except psycopg.errors.UniqueViolation as error:
        field = _UNIQUE_FIELD_BY_CONSTRAINT.get(error.diag.constraint_name or "", "unique value")
        raise DuplicateStudent(field) from error
    except psycopg.errors.CheckViolation as error:
        raise ConstraintViolation(error.diag.constraint_name or "unknown") from error
