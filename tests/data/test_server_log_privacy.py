"""The database's own log holds no student data.

On an embedded server started by tests/conftest.py (so with infra/postgresql.conf's parameters), every
constraint of the schema refuses a row of distinctive values, once bound server-side as the app sends them and
once as literals in the statement text as a hand-written script would, and a statement slow enough to be logged
runs with them too. The server's log file then holds every refusal (its SQLSTATE and message) and none of
the values. A control with PostgreSQL's default logging in one session shows the same reading finds a leak.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql

APPLICATION = "log-privacy-test"
DATE_OF_BIRTH = date(1937, 3, 29)  # in the probe rows; not a date any log line carries otherwise
NOW = datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
# A server line, as log_line_prefix (local-only) writes it: "<time> [<pid>] <SQLSTATE> <user>@<database>/<application>
# ERROR:  <message>"
ERROR_LINE = re.compile(rf"\] (?P<sqlstate>[0-9A-Z]{{5}}) \S+@\S+/{APPLICATION} ERROR: (?P<message>.*)$")
# Constraint names a function raises itself (RAISE ... USING CONSTRAINT = '...'), e.g. the reserved-number guard.
RAISED_CONSTRAINT = re.compile(r"CONSTRAINT\s*=\s*'([a-z0-9_]+)'", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal:
    what: str
    statement: sql.Composable
    params: tuple = ()


@dataclass
class Probe:
    """Distinctive values: every text value holds ``token`` (lower or upper case); the parent rows' ids and codes."""

    token: str
    ids: dict[str, int] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    _serial: int = 0

    def unique(self) -> int:
        self._serial += 1
        return self._serial

    @property
    def email(self) -> str:
        return f"leak-probe-{self.token}@example.org"

    @property
    def student_number(self) -> str:
        return f"LP-{self.token.upper()}"


@pytest.fixture(scope="module")
def server(isolated_database):
    embedded, _ = isolated_database
    return embedded


@pytest.fixture
def probe() -> Probe:
    return Probe(uuid.uuid4().hex[:12])


@pytest.fixture
def db(server) -> Iterator[psycopg.Connection]:
    with psycopg.connect(server.dsn("student_records"), autocommit=True, application_name=APPLICATION) as connection:
        yield connection


# RDS gets infra/postgresql.conf without its local-only lines: a session without the bound-value guards
# (PostgreSQL's most revealing values) stands for it; log_error_verbosity = terse must suffice alone.
AS_ON_RDS = ("SET log_parameter_max_length = -1", "SET log_parameter_max_length_on_error = -1")


@pytest.mark.parametrize("server_parameters", ["embedded", "as on RDS"])
def test_refused_values_never_reach_the_server_log(server, db, probe, server_parameters):
    # Given parent rows of distinctive values, and every constraint of the schema with a row that breaks it
    if server_parameters == "as on RDS":
        for statement in AS_ON_RDS:
            db.execute(statement)
    log_offset = server.server_log.stat().st_size
    _insert_parents(db, probe)
    refusals = [*_not_null_refusals(db, probe), *_constraint_refusals(probe)]

    # When the server refuses each, bound server-side and as literals in the statement text
    refused = []
    for refusal in refusals:
        for cursor_class in (psycopg.Cursor, psycopg.ClientCursor):
            with cursor_class(db) as cursor:
                try:
                    cursor.execute(refusal.statement, refusal.params)
                except psycopg.errors.IntegrityError as error:
                    refused.append(error.diag)
                except psycopg.Error as error:
                    pytest.fail(f"{refusal.what}: refused as {type(error).__name__}, not by a constraint")
                else:
                    pytest.fail(f"{refusal.what}: accepted")
    # And a statement over log_min_duration_statement runs with them (0 here stands for a slow one)
    slow_row = _student(probe)
    db.execute("SET log_min_duration_statement = 0")
    db.execute(_insert("students", slow_row), tuple(slow_row.values()))
    db.execute("RESET log_min_duration_statement")

    # Then the refusals cover every constraint the schema has
    covered = {diag.constraint_name for diag in refused if diag.constraint_name}
    missing = _schema_constraints(db) - covered
    assert not missing, f"no refusal drives {sorted(missing)}: add one to _constraint_refusals"
    covered_not_null = {(d.table_name, d.column_name) for d in refused if d.sqlstate == "23502"}
    missing_not_null = _not_null_columns(db).keys() - covered_not_null
    assert not missing_not_null, f"no refusal drives NOT NULL on {sorted(missing_not_null)}"

    # And the server logged every refusal, with its SQLSTATE and message, and the slow statement with placeholders
    log_bytes = server.server_log.read_bytes()
    log = log_bytes.decode(errors="replace")
    new_lines = log_bytes[log_offset:].decode(errors="replace").splitlines()
    errors = [match for line in new_lines if (match := ERROR_LINE.search(line))]
    assert [(e["sqlstate"], e["message"].strip()) for e in errors] == [
        (diag.sqlstate, diag.message_primary) for diag in refused
    ], "each refused statement is one ERROR line, in order"
    assert {"23502", "23503", "23505", "23514"} <= {error["sqlstate"] for error in errors}
    slow = [line for line in new_lines if f"/{APPLICATION} LOG:  duration:" in line and "INSERT INTO" in line]
    assert slow and all("$1" in line for line in slow), "the slow statement is logged with its placeholders"

    # And none of the refused values: no DETAIL (key, failing row), no STATEMENT, no bound parameter
    assert probe.token not in log.lower()
    assert DATE_OF_BIRTH.isoformat() not in log
    for marker in ("DETAIL:", "STATEMENT:", "CONTEXT:", "HINT:"):
        assert not any(marker in line for line in new_lines), f"{marker} lines are not logged"


def test_the_log_reading_finds_a_leak_under_postgresql_defaults(server, db, probe):
    """Control: the same server and reading, with PostgreSQL's default logging in one session, see the values."""
    # Given a session that logs as PostgreSQL does by default (a synthetic value, on a scratch server)
    db.execute("SET log_error_verbosity = 'default'")  # quoted: a bare DEFAULT means the configured value
    db.execute("SET log_min_error_statement = error")
    db.execute("SET log_parameter_max_length_on_error = -1")
    first = {**_student(probe), "email": probe.email}
    db.execute(_insert("students", first), tuple(first.values()))

    # When a duplicate email (another case) is refused
    duplicate = {**_student(probe), "email": probe.email.upper()}
    with pytest.raises(psycopg.errors.UniqueViolation):
        db.execute(_insert("students", duplicate), tuple(duplicate.values()))

    # Then the log quotes it, as it did before infra/postgresql.conf
    assert f"Key (lower(email))=({probe.email})" in server.server_log.read_text(errors="replace")


def _insert_parents(db: psycopg.Connection, probe: Probe) -> None:
    """Rows the refusals refer to or collide with, committed."""

    def add(table: str, row: dict) -> int:
        return db.execute(_insert(table, row) + sql.SQL(" RETURNING id"), tuple(row.values())).fetchone()[0]

    probe.ids["student"] = add(
        "students", {**_student(probe), "email": probe.email, "student_number": probe.student_number}
    )
    probe.ids["other_student"] = add("students", _student(probe))
    course, term = _course(probe), _term(probe)
    probe.ids["course"], probe.codes["course"] = add("courses", course), course["code"]
    probe.ids["term"], probe.codes["term"] = add("terms", term), term["code"]
    probe.ids["offering"] = add("course_offerings", _offering(probe))
    probe.ids["enrollment"] = add(
        "enrollments", {**_enrollment(probe), "student_id": probe.ids["student"], "status": "completed", "grade": "A"}
    )
    probe.ids["audit"] = add("student_audit", _audit(probe))
    key = _idempotency(probe, key=f"key-{probe.token}")
    db.execute(_insert("idempotency_keys", key), tuple(key.values()))


# A valid row per table, of fresh distinctive values; each refusal breaks one rule of it.
def _student(probe: Probe) -> dict:
    n = probe.unique()
    return {
        "student_number": f"{probe.student_number}-{n}",
        "first_name": f"Probe{probe.token}first",
        "last_name": f"Probe{probe.token}last",
        "email": f"leak-probe-{probe.token}-{n}@example.org",
        "date_of_birth": DATE_OF_BIRTH,
        "status": "active",
        "enrolled_on": date(2031, 1, 1),
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }


def _course(probe: Probe) -> dict:
    return {
        "code": f"lp-{probe.token}-{probe.unique()}",
        "title": f"Course {probe.token}",
        "credits": Decimal("7.5"),
        "department": f"Department {probe.token}",
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }


def _term(probe: Probe) -> dict:
    return {
        "code": f"T-{probe.token.upper()}-{probe.unique()}",
        "starts_on": date(2031, 1, 1),
        "ends_on": date(2031, 6, 30),
        "created_at": NOW,
    }


def _offering(probe: Probe) -> dict:
    return {
        "course_id": probe.ids["course"],
        "term_id": probe.ids["term"],
        "teacher_sub": f"teacher-{probe.token}",
        "capacity": 1,
        "enrolled_count": 0,
        "created_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }


def _enrollment(probe: Probe) -> dict:
    return {
        "offering_id": probe.ids["offering"],
        "student_id": probe.ids["other_student"],
        "status": "enrolled",
        "grade": None,
        "enrolled_at": NOW,
        "updated_at": NOW,
        "version": 1,
    }


def _audit(probe: Probe) -> dict:
    return {
        "occurred_at": NOW,
        "actor": f"actor-{probe.token}",
        "actor_role": "registrar",
        "action": "read",
        "student_id": probe.ids["student"],
        "correlation_id": f"correlation-{probe.token}",
    }


def _idempotency(probe: Probe, key: str | None = None) -> dict:
    return {
        "owner": f"owner-{probe.token}",
        "key": key or f"key-{probe.token}-{probe.unique()}",
        "request_hash": f"hash-{probe.token}",
        "status": 201,
        "body": f'{{"email": "{probe.email}"}}',
        "location": f"/students/{probe.token}",
        "created_at": NOW,
    }


VALID_ROWS: dict[str, Callable[[Probe], dict]] = {
    "students": _student,
    "courses": _course,
    "terms": _term,
    "course_offerings": _offering,
    "enrollments": _enrollment,
    "student_audit": _audit,
    "idempotency_keys": _idempotency,
    "grade_scale": lambda probe: {"grade": "Z", "points": Decimal("1.5")},
    "row_counts": lambda probe: {"table_name": f"probe-{probe.token}", "row_count": 1},
    "schema_migrations": lambda probe: {
        "version": f"probe-{probe.token}",
        "name": f"probe_{probe.token}",
        "checksum": probe.token,
        "applied_at": NOW,
    },
}


def _constraint_refusals(probe: Probe) -> list[Refusal]:
    ids = probe.ids

    def insert(what: str, table: str, identity: bool = False, **changes) -> Refusal:
        row = {**VALID_ROWS[table](probe), **changes}
        return Refusal(what, _insert(table, row, overriding=identity), tuple(row.values()))

    def statement(what: str, text: str, *params) -> Refusal:
        return Refusal(what, sql.SQL(text), params)

    return [
        # students
        insert("primary key", "students", identity=True, id=ids["student"]),
        insert("duplicate email in another case", "students", email=probe.email.upper()),
        statement(
            "duplicate email by update",
            "UPDATE students SET email = %s WHERE id = %s",
            probe.email.title(),
            ids["other_student"],
        ),
        insert("duplicate student number", "students", student_number=probe.student_number),
        insert("reserved student number", "students", student_number="S99999999"),
        insert("student number format", "students", student_number=f"lp-{probe.token}"),
        insert("first name blank", "students", first_name="   "),
        insert("last name blank", "students", last_name="   "),
        insert("email format", "students", email=f"no-at-sign-{probe.token}"),
        insert("date of birth range", "students", date_of_birth=date(1850, 1, 1)),
        insert("status", "students", status=f"expelled-{probe.token}"),
        insert("version", "students", version=0),
        # row_counts
        insert("counter primary key", "row_counts", table_name="students"),
        insert("negative count", "row_counts", row_count=-1),
        # student_audit
        insert("audit primary key", "student_audit", identity=True, id=ids["audit"]),
        insert("audit actor length", "student_audit", actor=f"{probe.token}-" * 30),
        insert("audit actor role", "student_audit", actor_role=f"janitor-{probe.token}"),
        insert("audit action", "student_audit", action=f"peek-{probe.token}"),
        insert("audit correlation id length", "student_audit", correlation_id=f"{probe.token}-" * 12),
        # idempotency_keys
        insert("idempotency key primary key", "idempotency_keys", key=f"key-{probe.token}"),
        insert("idempotency key length", "idempotency_keys", key=""),
        # courses
        insert("course primary key", "courses", identity=True, id=ids["course"]),
        insert("course code format", "courses", code=f"-{probe.token}"),
        insert("course title blank", "courses", title="  "),
        insert("course credits range", "courses", credits=Decimal("0.3")),
        insert("course department blank", "courses", department="  "),
        insert("course version", "courses", version=0),
        insert("duplicate course code in another case", "courses", code=probe.codes["course"].upper()),
        statement("course still offered", "DELETE FROM courses WHERE id = %s", ids["course"]),
        # terms
        insert("term primary key", "terms", identity=True, id=ids["term"]),
        insert("term code format", "terms", code=f"t-{probe.token}"),
        insert("term dates in order", "terms", starts_on=date(2031, 6, 30), ends_on=date(2031, 1, 1)),
        insert("term dates range", "terms", starts_on=date(1800, 1, 1)),
        insert("duplicate term code", "terms", code=probe.codes["term"]),
        statement("term still offered", "DELETE FROM terms WHERE id = %s", ids["term"]),
        # course_offerings
        insert("offering primary key", "course_offerings", identity=True, id=ids["offering"]),
        insert("offering of no course", "course_offerings", course_id=987654321),
        insert("offering in no term", "course_offerings", term_id=987654321),
        insert("offering teacher blank", "course_offerings", teacher_sub=""),
        insert("offering capacity range", "course_offerings", capacity=0),
        statement(
            "offering over capacity",
            "UPDATE course_offerings SET enrolled_count = capacity + 1 WHERE id = %s",
            ids["offering"],
        ),
        insert("offering version", "course_offerings", version=0),
        insert("second offering of a course in a term", "course_offerings"),
        statement("offering with enrollments", "DELETE FROM course_offerings WHERE id = %s", ids["offering"]),
        # grade_scale
        insert("grade primary key", "grade_scale", grade="A"),
        insert("grade format", "grade_scale", grade="a"),
        insert("grade points range", "grade_scale", points=Decimal(9)),
        statement("grade in use", "DELETE FROM grade_scale WHERE grade = %s", "A"),
        # enrollments
        insert("enrollment primary key", "enrollments", identity=True, id=ids["enrollment"]),
        insert("enrollment in no offering", "enrollments", offering_id=987654321),
        insert("enrollment of no student", "enrollments", student_id=987654321),
        insert("enrollment grade not on the scale", "enrollments", status="completed", grade="Q"),
        insert("enrollment status", "enrollments", status=f"expelled-{probe.token}"),
        insert("enrollment completed without a grade", "enrollments", status="completed"),
        insert("enrollment version", "enrollments", version=0),
        insert("second enrollment of a student", "enrollments", student_id=ids["student"]),
        # schema_migrations
        insert("migration primary key", "schema_migrations", version="0001"),
    ]


def _not_null_refusals(db: psycopg.Connection, probe: Probe) -> list[Refusal]:
    refusals = []
    for (table, column), identity in sorted(_not_null_columns(db).items()):
        assert table in VALID_ROWS, f"add a valid row for table {table} to VALID_ROWS"
        row = {**VALID_ROWS[table](probe), column: None}
        statement = _insert(table, row, overriding=identity)
        refusals.append(Refusal(f"{table}.{column} null", statement, tuple(row.values())))
    return refusals


def _insert(table: str, row: dict, overriding: bool = False) -> sql.Composed:
    return sql.SQL("INSERT INTO {} ({}) {}VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, row)),
        sql.SQL("OVERRIDING SYSTEM VALUE " if overriding else ""),
        sql.SQL(", ").join(sql.Placeholder() * len(row)),
    )


def _schema_constraints(db: psycopg.Connection) -> set[str]:
    """Primary keys, unique, foreign keys, checks, unique indexes, and constraints functions raise themselves."""
    constraints = {
        name
        for (name,) in db.execute(
            "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
            " WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f', 'c')"
        )
    }
    unique_indexes = {
        name
        for (name,) in db.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = 'public' AND x.indisunique"
        )
    }
    raised = {
        name
        for (source,) in db.execute(
            "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'"
        )
        for name in RAISED_CONSTRAINT.findall(source)
    }
    return constraints | unique_indexes | raised


def _not_null_columns(db: psycopg.Connection) -> dict[tuple[str, str], bool]:
    """(table, column) of every NOT NULL column, and whether it is an identity column."""
    return {
        (table, column): identity
        for table, column, identity in db.execute(
            "SELECT c.relname, a.attname, a.attidentity <> '' FROM pg_attribute a"
            " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped"
            " AND a.attnotnull"
        )
    }
