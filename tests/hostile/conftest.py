"""Fixtures of the hostile-input suite: the contract suite's doors, and the database state a refused request
must leave alone."""

from dataclasses import dataclass

import pytest

from tests.contract.conftest import api, both, create  # noqa: F401  (the doors over an empty database, as there)


@dataclass(frozen=True)
class DatabaseState:
    students: str  # a digest of every row: an UPDATE that keeps the row count still shows
    audit_rows: int
    idempotency_keys: int


@pytest.fixture
def database_state(db):
    """Reads the database as a refused request must leave it: its student rows, audit trail and idempotency
    records. The audit trail is included because its rows are written by the same statement as the access
    itself: a request that was refused accessed nothing, so it must leave no audit row either."""

    def _read() -> DatabaseState:
        students, audit_rows, idempotency_keys = db.execute(
            """SELECT (SELECT coalesce(md5(string_agg(s::text, '|' ORDER BY id)), '') FROM students s),
                      (SELECT count(*) FROM student_audit),
                      (SELECT count(*) FROM idempotency_keys)"""
        ).fetchone()
        return DatabaseState(students, audit_rows, idempotency_keys)

    return _read
