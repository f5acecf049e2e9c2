"""Read-audit rows commit without waiting for the WAL flush (READ_AUDIT_COMMIT=async, the default), changes
always wait, and a statement that relaxes its commit can never share a transaction with a change."""

import pytest

from application.settings import Settings
from student_records.access import Caller, Role
from student_records.data.database import Database, Query
from student_records.settings import ConfigurationError, DatabaseSettings
from student_records.students.repository import GET, INSERT, StudentRepository

CALLER = Caller(subject="auditor", role=Role.ADMIN, correlation_id="c-read-audit")
# What an audits_read statement's transaction runs with: the Session supplies %(read_audit_commit)s.
COMMIT_SETTING = Query(
    "test.read_audit_commit",
    "SELECT set_config('synchronous_commit', coalesce(%(read_audit_commit)s, current_setting('synchronous_commit')),"
    " true) AS value",
    audits_read=True,
)


def _database(conninfo: str, read_audit_commit: str) -> Database:
    return Database(DatabaseSettings(url=conninfo, read_audit_commit=read_audit_commit))


@pytest.mark.parametrize(("choice", "expected"), [("async", "off"), ("sync", "on")])
def test_the_setting_decides_the_read_audit_commit(db, database_conninfo, choice, expected):
    database = _database(database_conninfo, choice)
    try:
        assert database.fetch_one(COMMIT_SETTING)["value"] == expected
    finally:
        database.close()


def test_a_read_sets_its_own_transaction_only_and_still_writes_its_audit_row(db):
    # Given a student
    with db.transaction():
        student_id = db.execute(
            "INSERT INTO students (first_name, last_name, email) VALUES ('A', 'B', 'read-audit@example.org')"
            " RETURNING id"
        ).fetchone()[0]
    params = {
        "id": student_id,
        "actor": "auditor",
        "actor_role": "admin",
        "correlation_id": "c1",
        "read_audit_commit": "off",
    }
    # When the audited read runs in a transaction, its setting holds for that transaction and ends with it
    with db.transaction():
        assert db.execute(GET.sql, params).fetchone()[0] == student_id
        assert db.execute("SHOW synchronous_commit").fetchone()[0] == "off"
    assert db.execute("SHOW synchronous_commit").fetchone()[0] == "on"
    # And its audit row is there
    assert db.execute("SELECT action, actor FROM student_audit WHERE student_id = %s", (student_id,)).fetchall() == [
        ("read", "auditor")
    ]


def test_changes_keep_the_servers_commit_setting(db, database_conninfo):
    assert "synchronous_commit" not in INSERT.sql and not INSERT.audits_read
    database = _database(database_conninfo, "async")
    try:
        with database.transaction() as session:
            StudentRepository(session).insert(
                CALLER,
                {
                    "student_number": None,
                    "first_name": "C",
                    "last_name": "D",
                    "email": "change@example.org",
                    "date_of_birth": None,
                    "status": "active",
                    "enrolled_on": None,
                },
            )
            assert session.fetch_one(Query("test.show", "SHOW synchronous_commit"))["synchronous_commit"] == "on"
    finally:
        database.close()


def test_an_audited_read_refuses_to_join_a_transaction(db, database_conninfo):
    database = _database(database_conninfo, "async")
    try:
        with pytest.raises(RuntimeError, match="read-audit"), database.transaction() as session:
            StudentRepository(session).get(CALLER, 1)
    finally:
        database.close()


def test_an_unknown_choice_is_refused():
    with pytest.raises(ConfigurationError, match="READ_AUDIT_COMMIT"):
        Settings.from_environ({"DATABASE_URL": "host=localhost", "READ_AUDIT_COMMIT": "lazy"})


def test_every_statement_that_writes_read_audit_rows_is_marked():
    # The Session supplies the setting only to marked statements: an unmarked one would fail on its parameter.
    import student_records.enrollments.repository as enrollments
    import student_records.students.repository as students
    import student_records.transcripts.repository as transcripts

    for module in (students, enrollments, transcripts):
        for query in vars(module).values():
            if isinstance(query, Query):
                assert query.audits_read == ("read_audit_commit" in query.sql), query.name
