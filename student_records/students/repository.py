"""SQL of students, and of the Idempotency-Key records of their creation. Every statement that reads or changes a
student also writes its audit row, in the same statement (data/auditing.py)."""

from typing import Any

from psycopg import sql

from ..access import Caller
from ..data.auditing import actor, audited, read_audited
from ..data.database import Executor, Query, Session
from ..data.integrity import integrity_errors_translated
from ..data.prefix_search import like_prefix
from ..data.sql import column_list, update_query
from ..errors import DuplicateStudent
from ..models import Model
from .models import Student, StudentStatus

COLUMNS = (
    "id",
    "student_number",
    "first_name",
    "last_name",
    "email",
    "date_of_birth",
    "status",
    "enrolled_on",
    "created_at",
    "updated_at",
    "version",
)
# Columns a partial update may set: the allow-list the PATCH statement's names come from.
UPDATABLE = ("first_name", "last_name", "email", "date_of_birth", "status", "enrolled_on")
REFUSALS = {
    "students_email_lower_key": lambda: DuplicateStudent("email"),
    "students_student_number_key": lambda: DuplicateStudent("student_number"),
}

INSERT = Query(
    "students.insert",
    sql.SQL(
        """WITH inserted AS (
            INSERT INTO students (student_number, first_name, last_name, email, date_of_birth, status, enrolled_on)
            VALUES (coalesce(%(student_number)s, generated_student_number()), %(first_name)s, %(last_name)s,
                    %(email)s, %(date_of_birth)s, %(status)s, coalesce(%(enrolled_on)s, current_date))
            RETURNING {columns}),
        {audit}
        SELECT * FROM inserted"""
    ).format(columns=column_list(COLUMNS), audit=audited("create", "inserted")),
)
GET = Query(
    "students.get",
    sql.SQL(
        """WITH found AS (SELECT {columns} FROM students WHERE id = %(id)s),
        {audit}
        SELECT * FROM found"""
    ).format(columns=column_list(COLUMNS), audit=read_audited("read", "found")),
    audits_read=True,
)
GET_VERSION_FOR_UPDATE = Query("students.lock_version", "SELECT version FROM students WHERE id = %(id)s FOR UPDATE")
DELETE = Query(
    "students.delete",
    sql.SQL(
        """WITH deleted AS (DELETE FROM students WHERE id = %(id)s RETURNING id),
        {audit}
        SELECT count(*) AS deleted FROM deleted"""
    ).format(audit=audited("delete", "deleted")),
)
COUNT = Query("students.count", "SELECT row_count FROM row_counts WHERE table_name = 'students'")

_NAME_PREFIX = sql.SQL("lower(first_name) LIKE %(prefix)s OR lower(last_name) LIKE %(prefix)s")
_NAME_OR_EMAIL_PREFIX = sql.SQL("({} OR lower(email) LIKE %(prefix)s)").format(_NAME_PREFIX)
_BY_STATUS = sql.SQL("status = %(status)s AND ")


def _page(name: str, condition: sql.Composable = sql.SQL("")) -> Query:
    # One statement per filter combination: each keeps a plan fit for its own indexes.
    return Query(
        name,
        sql.SQL(
            """WITH found AS (
                SELECT {columns} FROM students WHERE {condition}id > %(after)s ORDER BY id LIMIT %(limit)s),
            {audit}
            SELECT * FROM found ORDER BY id"""
        ).format(columns=column_list(COLUMNS), condition=condition, audit=read_audited("list", "found")),
        audits_read=True,
    )


LIST = _page("students.list")
LIST_BY_STATUS = _page("students.list_by_status", _BY_STATUS)
SEARCH = _page("students.search", sql.SQL("{} AND ").format(_NAME_OR_EMAIL_PREFIX))
SEARCH_BY_STATUS = _page("students.search_by_status", sql.SQL("{}{} AND ").format(_BY_STATUS, _NAME_OR_EMAIL_PREFIX))
# Teachers see no email, so they cannot search by it either.
SEARCH_NAMES = _page("students.search_names", sql.SQL("({}) AND ").format(_NAME_PREFIX))
SEARCH_NAMES_BY_STATUS = _page(
    "students.search_names_by_status", sql.SQL("{}({}) AND ").format(_BY_STATUS, _NAME_PREFIX)
)


def _page_query(by_status: bool, prefix_search: bool, emails_searchable: bool) -> Query:
    if not prefix_search:
        return LIST_BY_STATUS if by_status else LIST
    if emails_searchable:
        return SEARCH_BY_STATUS if by_status else SEARCH
    return SEARCH_NAMES_BY_STATUS if by_status else SEARCH_NAMES


class StudentRepository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def insert(self, caller: Caller, values: dict[str, Any]) -> Student:
        with integrity_errors_translated(REFUSALS):
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
        self,
        after_id: int,
        limit: int,
        *,
        caller: Caller,
        status: StudentStatus | None,
        prefix: str | None,
        search_emails: bool,
    ) -> list[Student]:
        params: dict[str, Any] = {"after": after_id, "limit": limit, **actor(caller)}
        if status is not None:
            params["status"] = status.value
        if prefix is not None:
            params["prefix"] = like_prefix(prefix)
        query = _page_query(status is not None, prefix is not None, search_emails)
        return [Student.model_validate(row) for row in self._executor.fetch_all(query, params)]

    def current_version_for_update(self, student_id: int) -> int | None:
        """Locks the row until the transaction ends, so a version check cannot race another writer."""
        row = self._executor.fetch_one(GET_VERSION_FOR_UPDATE, {"id": student_id})
        return None if row is None else row["version"]

    def update(self, caller: Caller, student_id: int, changes: dict[str, Any]) -> Student:
        """`changes` as JSON values (a status as its text), by field name."""
        fields = tuple(field for field in UPDATABLE if field in changes)
        query = update_query("students.update", "students", COLUMNS, fields, audit_action="update")
        with integrity_errors_translated(REFUSALS):
            row = self._executor.fetch_one(
                query, {**{field: changes[field] for field in fields}, "id": student_id, **actor(caller)}
            )
        return Student.model_validate(row)


class RecordedAnswer(Model):
    """The answer given to the first request with an Idempotency-Key, as the REST contract rendered it: what its
    replays get again."""

    status: int
    body: str
    location: str | None = None


FORGET_EXPIRED = Query(
    "idempotency.forget_expired",
    """DELETE FROM idempotency_keys
       WHERE owner = %(owner)s AND key = %(key)s AND created_at < now() - interval '24 hours'""",
)
FIND = Query(
    "idempotency.find",
    "SELECT request_hash, status, body, location FROM idempotency_keys WHERE owner = %(owner)s AND key = %(key)s",
)
# ON CONFLICT waits for a concurrent request holding the same key to finish, then does nothing.
SAVE = Query(
    "idempotency.save",
    """INSERT INTO idempotency_keys (owner, key, request_hash, status, body, location)
       VALUES (%(owner)s, %(key)s, %(request_hash)s, %(status)s, %(body)s, %(location)s)
       ON CONFLICT (owner, key) DO NOTHING RETURNING key""",
)


class IdempotencyStore:
    """One caller's Idempotency-Key, inside the transaction of the request it guards."""

    def __init__(self, session: Session, owner: str, key: str) -> None:
        self._session = session
        self._ids = {"owner": owner, "key": key}

    def recorded(self) -> tuple[str, RecordedAnswer] | None:
        """The hash of the request first made with this key in the last 24 hours, and the answer it got."""
        self._session.execute(FORGET_EXPIRED, self._ids)
        row = self._session.fetch_one(FIND, self._ids)
        return None if row is None else (row.pop("request_hash"), RecordedAnswer.model_validate(row))

    def record(self, request_hash: str, answer: RecordedAnswer) -> bool:
        """False when a concurrent request recorded this key first."""
        params = {**self._ids, "request_hash": request_hash, **answer.model_dump()}
        return self._session.fetch_one(SAVE, params) is not None
