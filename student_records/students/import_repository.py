"""SQL of the bulk import. A batch of validated rows, sorted by email, goes in with COPY statements: the
students, with ids drawn beforehand from the table's identity and student numbers from the column's default (or
chosen), then their audit rows. COPY into students fills pages many rows at a time (the table has no per-row
trigger), and rows in email order fill the email index in order rather than at random places.

A COPY cannot skip a row, so the rows whose email is already present, or whose chosen number is held, are
found first (one index lookup each). A concurrent writer can still take an email or a number between that
check and the COPY; the batch is then loaded again through a staging table with ON CONFLICT DO NOTHING, and
the rows it took count as already present. Every statement runs in the import's one transaction."""

import csv
import io
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, NamedTuple

import psycopg
from psycopg import sql

from ..access import Caller
from ..data.auditing import actor, audited
from ..data.database import Query, Session
from ..data.integrity import integrity_errors_translated
from ..data.sql import column_list
from .repository import REFUSALS

# The columns of a row's CSV text in a StagedBatch: everything but its id and student number; enrolled_on
# last (the importer gives it the import's day when a row has none).
ROW_COLUMNS = ("first_name", "last_name", "email", "date_of_birth", "status", "enrolled_on")


class StagedBatch(NamedTuple):
    """Validated students in email order, as parallel lists (one element per student)."""

    email_keys: list[str]  # lower(email): what the unique index compares
    lines: list[int]  # in the file
    student_numbers: list[str | None]  # None: the column's default generates one
    rows: list[str]  # CSV of ROW_COLUMNS, each ending in a newline

    def keeping(self, indexes: Sequence[int]) -> "StagedBatch":
        return StagedBatch(*_picked(indexes, *self))


_ROW_COLUMNS = column_list(ROW_COLUMNS)
_STAGING_COLUMNS = column_list(("id", "student_number", *ROW_COLUMNS))
# The varying column last: an audit row is a constant prefix and the student's id.
_AUDIT_COLUMNS = column_list(("actor", "actor_role", "action", "correlation_id", "student_id"))

TODAY = Query("imports.today", "SELECT current_date AS today")


def _which_exist(name: str, key: sql.Composable) -> Query:
    """Which of the given values some student has as `key`. The values travel as one newline-separated text
    (emails and numbers hold no whitespace): a text array of 100,000 elements costs several times as much to
    send and parse. OFFSET 0 keeps each check an index lookup."""
    return Query(
        name,
        sql.SQL(
            """SELECT value FROM unnest(string_to_array(%(values)s, E'\\n')) AS value
             WHERE EXISTS (SELECT 1 FROM students WHERE {key} = value OFFSET 0)"""
        ).format(key=key),
    )


PRESENT_EMAILS = _which_exist("imports.present_emails", sql.SQL("lower(email)"))
HELD_STUDENT_NUMBERS = _which_exist("imports.held_student_numbers", sql.Identifier("student_number"))
# students_id_seq: the identity's sequence (named by name: pg_get_serial_sequence per row costs 1.7 µs).
RESERVE_IDS = Query(
    "imports.reserve_ids",
    "SELECT string_agg(nextval('students_id_seq')::text, ',') AS ids FROM generate_series(1, %(students)s)",
)


def _copy(name: str, table: str, columns: sql.Composable) -> Query:
    """A batch's rows into `table`, in one round trip: COPY from the client, in CSV."""
    statement = sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT csv)")
    return Query(name, statement.format(table=sql.Identifier(table), columns=columns))


COPY_GENERATED = _copy("imports.copy_students", "students", sql.SQL("id, {}").format(_ROW_COLUMNS))
COPY_CHOSEN = _copy(
    "imports.copy_students_numbered", "students", sql.SQL("id, student_number, {}").format(_ROW_COLUMNS)
)
COPY_AUDIT = _copy("imports.copy_audit", "student_audit", _AUDIT_COLUMNS)

# The fallback after a concurrent writer took a row of the batch.
CREATE_STAGING = Query(
    "imports.create_staging",
    sql.SQL("CREATE TEMPORARY TABLE import_staging ON COMMIT DROP AS SELECT {columns} FROM students LIMIT 0").format(
        columns=_STAGING_COLUMNS
    ),
)
COPY_STAGING = _copy("imports.copy_staging", "import_staging", _STAGING_COLUMNS)
LOAD_STAGED_SKIPPING_TAKEN = Query(
    "imports.load_skipping_taken",
    sql.SQL(
        """WITH inserted AS (
            INSERT INTO students ({staging_columns}) OVERRIDING SYSTEM VALUE
            SELECT id, coalesce(student_number, generated_student_number()), {row_columns}
              FROM import_staging ORDER BY lower(email)
            ON CONFLICT DO NOTHING
            RETURNING id),
        {audit}
        SELECT count(*) AS loaded FROM inserted"""
    ).format(staging_columns=_STAGING_COLUMNS, row_columns=_ROW_COLUMNS, audit=audited("create", "inserted")),
)
DROP_STAGING = Query("imports.drop_staging", "DROP TABLE import_staging")


class ImportRepository:
    """The steps of one import, on the session of its transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def present_emails(self, email_keys: Sequence[str]) -> set[str]:
        """The keys (lower-case emails) that already belong to a student."""
        return self._existing(PRESENT_EMAILS, email_keys)

    def held_student_numbers(self, numbers: Sequence[str]) -> set[str]:
        """The student numbers that already belong to a student."""
        return self._existing(HELD_STUDENT_NUMBERS, numbers)

    def _existing(self, query: Query, values: Sequence[str]) -> set[str]:
        if not values:
            return set()
        return {row["value"] for row in self._session.fetch_all(query, {"values": "\n".join(values)})}

    def today(self) -> date:
        """The transaction's date: what a row without an enrolment date gets, as the API's insert does."""
        (row,) = self._session.fetch_all(TODAY)
        today: date = row["today"]
        return today

    def insert(self, batch: StagedBatch, caller: Caller) -> int:
        """Inserts the batch's students (none of them present, checked just before), each with its audit row;
        returns how many were inserted: all of them, unless a concurrent writer took some meanwhile."""
        if not batch.rows:
            return 0
        (reserved,) = self._session.fetch_all(RESERVE_IDS, {"students": len(batch.rows)})
        ids = reserved["ids"].split(",")
        # A rule of the database the model does not know fails the whole load, naming the rule, not the row.
        with integrity_errors_translated(REFUSALS):
            try:
                with self._session.savepoint():
                    self._copy(ids, batch, caller)
                return len(ids)
            except psycopg.errors.UniqueViolation:
                return self._insert_skipping_taken(ids, batch, caller)

    def _copy(self, ids: list[str], batch: StagedBatch, caller: Caller) -> None:
        if any(batch.student_numbers):
            generated = [index for index, number in enumerate(batch.student_numbers) if number is None]
            chosen = [index for index, number in enumerate(batch.student_numbers) if number is not None]
            if generated:
                self._session.copy_in(COPY_GENERATED, _csv_chunks("{},{}", *_picked(generated, ids, batch.rows)))
            self._session.copy_in(
                COPY_CHOSEN, _csv_chunks("{},{},{}", *_picked(chosen, ids, batch.student_numbers, batch.rows))
            )
        else:
            self._session.copy_in(COPY_GENERATED, _csv_chunks("{},{}", ids, batch.rows))
        self._session.copy_in(COPY_AUDIT, _csv_chunks(_audit_prefix(caller) + ",{}\n", ids))

    def _insert_skipping_taken(self, ids: list[str], batch: StagedBatch, caller: Caller) -> int:
        self._session.execute(CREATE_STAGING)
        numbers = [number or "" for number in batch.student_numbers]  # empty: NULL, generated when inserted
        self._session.copy_in(COPY_STAGING, _csv_chunks("{},{},{}", ids, numbers, batch.rows))
        row = self._session.fetch_one(LOAD_STAGED_SKIPPING_TAKEN, actor(caller))
        self._session.execute(DROP_STAGING)
        return int(row["loaded"]) if row else 0


# Rows per chunk of a COPY: the server parses and inserts a chunk while the next one is being formatted.
_CHUNK_ROWS = 8192


def _csv_chunks(line: str, *columns: Sequence[str]) -> Iterator[str]:
    """The COPY text of `columns` (strings already CSV-encoded), `line` being the format of one row."""
    for start in range(0, len(columns[0]), _CHUNK_ROWS):
        yield "".join(map(line.format, *(column[start : start + _CHUNK_ROWS] for column in columns)))


def _picked(indexes: Sequence[int], *columns: Sequence[Any]) -> list[list[Any]]:
    return [[column[index] for index in indexes] for column in columns]


def _audit_prefix(caller: Caller) -> str:
    """The CSV cells every audit row of the caller's import shares, as a format string (braces escaped)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow((caller.subject, caller.role.value, "create", caller.correlation_id))
    return buffer.getvalue().replace("{", "{{").replace("}", "}}")
