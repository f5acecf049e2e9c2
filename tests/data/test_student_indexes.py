"""One index on lower(email) (sql/0007) both keeps emails unique whatever their case and serves the prefix
search; every query of the API on students still reaches its rows through an index."""

import psycopg
import pytest

from student_records.students import repository as students

PREFIX = "f12%"


@pytest.fixture
def seeded(db):
    # Enough rows that a scan would cost more than an index, few of them graduated
    db.execute(
        "INSERT INTO students (first_name, last_name, email, status)"
        " SELECT 'F' || i, 'L' || i, 's' || i || '@example.org',"
        "        CASE WHEN i % 50 = 0 THEN 'graduated' ELSE 'active' END"
        " FROM generate_series(1, 5000) AS i"
    )
    db.execute("ANALYZE students")
    return db


def _plan(db, sql: str, params: dict) -> str:
    return "\n".join(row[0] for row in db.execute(f"EXPLAIN {sql}", params))


def test_a_duplicate_email_in_any_case_violates_the_one_email_index(db):
    db.execute("INSERT INTO students (first_name, last_name, email) VALUES ('A', 'B', 'Ada@Example.org')")
    with pytest.raises(psycopg.errors.UniqueViolation) as raised:
        db.execute("INSERT INTO students (first_name, last_name, email) VALUES ('A', 'B', 'ada@example.ORG')")
    # The name the API maps to "email" in its 409
    assert raised.value.diag.constraint_name == "students_email_lower_key"


def test_the_email_index_is_the_only_one_on_lower_email(db):
    definitions = [
        row[0]
        for row in db.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'students' AND indexdef LIKE '%lower(email)%'"
        )
    ]
    assert definitions == [
        "CREATE UNIQUE INDEX students_email_lower_key ON public.students USING btree (lower(email) text_pattern_ops)"
    ]


def test_an_email_lookup_uses_the_email_index(seeded):
    plan = _plan(seeded, "SELECT id FROM students WHERE lower(email) = lower(%(email)s)", {"email": "S12@example.org"})
    assert "students_email_lower_key" in plan, plan


@pytest.mark.parametrize(
    ("query", "indexes"),
    [
        (
            students.SEARCH,
            ("students_first_name_prefix_idx", "students_last_name_prefix_idx", "students_email_lower_key"),
        ),
        (
            students.SEARCH_BY_STATUS,
            ("students_first_name_prefix_idx", "students_last_name_prefix_idx", "students_email_lower_key"),
        ),
        (students.SEARCH_NAMES, ("students_first_name_prefix_idx", "students_last_name_prefix_idx")),
        (students.LIST_BY_STATUS, ("students_status_id_idx",)),
        (students.LIST, ("students_pkey",)),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_every_page_of_students_is_read_through_its_indexes(seeded, query, indexes):
    params = {
        "after": 0,
        "limit": 51,
        "prefix": PREFIX,
        "status": "graduated",
        "actor": "t",
        "actor_role": "admin",
        "correlation_id": "c",
        "read_audit_commit": "on",
    }
    plan = _plan(seeded, query.sql, params)
    for index in indexes:
        assert index in plan, plan
    assert "Seq Scan on students" not in plan, plan
