"""SQL of the bulk import. Validated rows are copied into a temporary staging table a batch at a time, and each
batch is moved into students by one INSERT ... SELECT that also writes their audit rows: one statement per
batch, so the per-row student_number trigger, the statement-level row_counts trigger and the audit see each
batch once. Every batch runs in the import's one transaction."""

from collections.abc import Iterable

import psycopg

from ..access import Caller
from .database import Query, Session
from .students import translate_integrity_errors

# The order of the staging columns is the order of the rows the importer writes.
STAGING_COLUMNS = (
    "line", "student_number", "first_name", "last_name", "email", "date_of_birth", "status", "enrolled_on",
)

# Dropped at commit or rollback: a pooled connection never keeps a run's rows.
CREATE_STAGING = Query(
    "imports.create_staging",
    """CREATE TEMPORARY TABLE import_staging (
           line           integer NOT NULL,
           student_number text,
           first_name     text    NOT NULL,
           last_name      text    NOT NULL,
           email          text    NOT NULL,
           date_of_birth  date,
           status         text    NOT NULL,
           enrolled_on    date
       ) ON COMMIT DROP""",
)
# A batch is sorted by email in memory rather than in temporary files (the default 4MB would spill it).
SORT_IN_MEMORY = Query("imports.sort_in_memory", "SET LOCAL work_mem = '64MB'")
COPY_STAGING = Query(
    "imports.copy_staging", f"COPY import_staging ({', '.join(STAGING_COLUMNS)}) FROM STDIN (FORMAT csv)"
)
EMPTY_STAGING = Query("imports.empty_staging", "TRUNCATE import_staging")
# A student number already held by another student is the row's error; a row whose email is already there is
# that student, imported before (its number, if any, is then theirs too). OFFSET 0 keeps each check an index
# lookup for the rows that have a number: most files have none, and as a join this scanned the whole table.
REJECT_TAKEN_STUDENT_NUMBERS = Query(
    "imports.reject_taken_student_numbers",
    """DELETE FROM import_staging AS staged
        WHERE staged.student_number IS NOT NULL
          AND EXISTS (SELECT 1 FROM students AS holder WHERE holder.student_number = staged.student_number OFFSET 0)
          AND NOT EXISTS (SELECT 1 FROM students AS same WHERE lower(same.email) = lower(staged.email) OFFSET 0)
    RETURNING staged.line""",
)


def _load(name: str, on_conflict: str) -> Query:
    # Rows whose email is already there are left out before the trigger numbers them: a re-run burns no student
    # numbers. OFFSET 0 keeps that check one index lookup per row: as an anti-join it would scan all of students
    # for every batch. Sorted by email, the rows fill the email index in order rather than at random places; ids
    # and generated numbers then follow the emails, not the file.
    return Query(
        name,
        f"""WITH inserted AS (
                INSERT INTO students (student_number, first_name, last_name, email, date_of_birth, status,
                                      enrolled_on)
                SELECT staged.student_number, staged.first_name, staged.last_name, staged.email,
                       staged.date_of_birth, staged.status, coalesce(staged.enrolled_on, current_date)
                  FROM import_staging AS staged
                 WHERE NOT EXISTS (SELECT 1 FROM students AS same WHERE lower(same.email) = lower(staged.email)
                                   OFFSET 0)
                 ORDER BY lower(staged.email)
                {on_conflict}
                RETURNING id),
            audited AS (
                INSERT INTO student_audit (actor, actor_role, action, student_id, correlation_id)
                SELECT %(actor)s, %(actor_role)s, 'create', id, %(correlation_id)s FROM inserted)
            SELECT count(*) AS loaded FROM inserted""",
    )


# Without ON CONFLICT: its speculative insertion costs about a fifth of the server's time per row, and only a
# concurrent writer taking an email or number between the check above and the insert can make it needed.
LOAD_STAGED = _load("imports.load", "")
# When that happened, the batch is loaded again leaving out the rows it took: they are "already present".
LOAD_STAGED_SKIPPING_TAKEN = _load("imports.load_skipping_taken", "ON CONFLICT DO NOTHING")


class ImportRepository:
    """The steps of one import, on the session of its transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create_staging(self) -> None:
        self._session.execute(CREATE_STAGING)
        self._session.execute(SORT_IN_MEMORY)

    def copy_to_staging(self, csv_chunks: Iterable[str]) -> int:
        """Rows in CSV with the STAGING_COLUMNS; returns how many were staged."""
        return self._session.copy_in(COPY_STAGING, csv_chunks)

    def reject_taken_student_numbers(self) -> list[int]:
        """Drops the staged rows whose chosen student number another student holds; returns their lines."""
        return sorted(row["line"] for row in self._session.fetch_all(REJECT_TAKEN_STUDENT_NUMBERS))

    def load_staged(self, caller: Caller) -> int:
        """Inserts the staged students not already present, each with its audit row, and empties the staging
        table for the next batch; returns how many were inserted."""
        who = {"actor": caller.subject, "actor_role": caller.role.value, "correlation_id": caller.correlation_id}
        # A rule of the database the model does not know fails the whole load, naming the rule, not the row.
        with translate_integrity_errors():
            try:
                with self._session.savepoint():
                    row = self._session.fetch_one(LOAD_STAGED, who)
            except psycopg.errors.UniqueViolation:
                row = self._session.fetch_one(LOAD_STAGED_SKIPPING_TAKEN, who)
        self._session.execute(EMPTY_STAGING)
        return int(row["loaded"]) if row else 0
