"""Large files load in batches, each validated while the database loads the one before: still one transaction,
one report, and the API's uniqueness rules hold against a student created through the API mid-import."""

import io
import threading
import time

import pytest

from student_records.access import Caller, Role
from student_records.students import importer
from student_records.students.importer import import_students
from student_records.students.repository import StudentRepository

REGISTRAR = Caller(subject="import:test", role=Role.REGISTRAR, correlation_id="import-test")
API_CALLER = Caller(subject="api:registrar", role=Role.REGISTRAR, correlation_id="api-test")
HEADER = "first_name,last_name,email,student_number\n"


def _csv(*rows: str) -> io.StringIO:
    return io.StringIO(HEADER + "".join(f"{row}\n" for row in rows))


def _emails(db) -> list[str]:
    return [row[0] for row in db.execute("SELECT email FROM students ORDER BY lower(email)")]


def _creates(db) -> int:
    return db.execute("SELECT count(*) FROM student_audit WHERE action = 'create'").fetchone()[0]


@pytest.fixture
def batches_of_two(monkeypatch):
    monkeypatch.setattr(importer, "BATCH_ROWS", 2)


def test_a_file_of_many_batches_loads_as_one_with_one_report(db, batches_of_two, database):
    # Given a student holding a number, and a file of four batches with rejections in several of them
    StudentRepository(database).insert(
        API_CALLER,
        {
            "student_number": "N-1",
            "first_name": "Held",
            "last_name": "Number",
            "email": "held@example.org",
            "date_of_birth": None,
            "status": "active",
            "enrolled_on": None,
        },
    )
    lines = _csv(
        "Ada,Lovelace,ada@example.org,",
        "Bad,Row,not-an-email,",
        "Grace,Hopper,grace@example.org,",
        "Hedy,Lamarr,hedy@example.org,N-1",
        "Alan,Turing,ADA@example.org,",
        "Kurt,Goedel,kurt@example.org,",
        "Emmy,Noether,emmy@example.org,",
        "Held,Number,HELD@example.org,",
    )

    # When it is imported
    summary = import_students(database, REGISTRAR, lines)

    # Then every valid row loaded once, with its audit row, and every rejection is reported by its line
    assert (summary.read, summary.loaded, summary.already_present, summary.rejected) == (8, 4, 1, 3)
    assert [(rejection.line, rejection.field) for rejection in summary.rejections] == [
        (3, "email"),
        (5, "student_number"),
        (6, "email"),
    ]
    assert _emails(db) == [
        "ada@example.org",
        "emmy@example.org",
        "grace@example.org",
        "held@example.org",
        "kurt@example.org",
    ]
    assert _creates(db) == 5


def test_a_failure_in_a_later_batch_loads_nothing_of_the_earlier_ones(db, batches_of_two, database):
    # Given a rule only the database knows, broken by a row of the third batch
    db.execute("ALTER TABLE students ADD CONSTRAINT test_no_forbidden_names CHECK (last_name <> 'Forbidden')")
    try:
        lines = _csv(
            "Ada,Lovelace,ada@example.org,",
            "Grace,Hopper,grace@example.org,",
            "Hedy,Lamarr,hedy@example.org,",
            "Alan,Turing,alan@example.org,",
            "Kurt,Forbidden,kurt@example.org,",
        )

        # When the file is imported, Then it fails as a whole
        with pytest.raises(Exception, match="test_no_forbidden_names"):
            import_students(database, REGISTRAR, lines)
    finally:
        db.execute("ALTER TABLE students DROP CONSTRAINT test_no_forbidden_names")

    # And the batches loaded before the failure were rolled back with it
    assert _emails(db) == []
    assert _creates(db) == 0


def test_a_student_the_api_creates_during_the_import_is_kept_once(db, database):
    # Given a student created through the API, not yet committed, with an email the file also has
    lines = _csv("Ada,Lovelace,ada@example.org,", "Grace,Hopper,GRACE@example.org,", "Hedy,Lamarr,hedy@example.org,")
    outcome: dict = {}
    with database.transaction() as api_session:
        StudentRepository(api_session).insert(
            API_CALLER,
            {
                "student_number": None,
                "first_name": "Grace",
                "last_name": "API",
                "email": "grace@example.org",
                "date_of_birth": None,
                "status": "active",
                "enrolled_on": None,
            },
        )

        # When the import runs meanwhile, and reaches that email while the API's transaction is still open
        importing = threading.Thread(target=lambda: outcome.update(summary=import_students(database, REGISTRAR, lines)))
        importing.start()
        _wait_until_blocked_by_a_lock(db, importing)
    # (the API's transaction commits here)
    importing.join()

    # Then the import succeeds, counting that row as already present, and the email belongs to one student
    summary = outcome["summary"]
    assert (summary.loaded, summary.already_present, summary.rejected) == (2, 1, 0)
    assert db.execute("SELECT last_name FROM students WHERE lower(email) = 'grace@example.org'").fetchall() == [
        ("API",)
    ]
    assert _emails(db) == ["ada@example.org", "grace@example.org", "hedy@example.org"]
    assert _creates(db) == 3


def _wait_until_blocked_by_a_lock(db, importing: threading.Thread, deadline_s: float = 30) -> None:
    """Until the import's COPY waits for the API's transaction (the unique index's check of its row)."""
    deadline = time.monotonic() + deadline_s
    while not db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY \"students\" %%'"
    ).fetchone()[0]:
        assert importing.is_alive(), "the import ended without waiting for the API's transaction"
        assert time.monotonic() < deadline, "the import never reached the API's row"
