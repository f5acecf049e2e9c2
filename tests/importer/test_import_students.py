"""Bulk import, end to end through the command: valid rows load with their audit rows in one transaction,
invalid rows are reported by line, field and reason without their values, and re-runs change nothing."""

import csv
import json
from datetime import date

import pytest

from local_stack.import_students import EXIT_FAILED, EXIT_LOADED, EXIT_REJECTED, write_fake_students
from student_records.students.models import StudentCreate
from tests.importer.conftest import write_csv

FULL_HEADER = ("first_name", "last_name", "email", "student_number", "date_of_birth", "status", "enrolled_on")


def _students(db):
    return db.execute(
        "SELECT student_number, first_name, last_name, email, date_of_birth, status, enrolled_on FROM students"
        " ORDER BY lower(email)"
    ).fetchall()


def _counter(db):
    return db.execute("SELECT row_count FROM row_counts WHERE table_name = 'students'").fetchone()[0]


def _count(db, table):
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_valid_file_loads_every_row_with_its_audit_row(db, run_import, tmp_path):
    # Given a file with every column, in an unusual order, and optional cells left empty
    path = write_csv(
        tmp_path / "students.csv",
        [
            ("graduated", "Ada", "  Lovelace ", "Ada@Example.org", "ADA-1815", "1990-12-10", "2020-09-01"),
            ("", "Grace", "Hopper", "grace@example.org", "", "", ""),
        ],
        header=("status", "first_name", "last_name", "email", "student_number", "date_of_birth", "enrolled_on"),
    )

    # When it is imported
    run = run_import(path)

    # Then both students are there, as the API would have stored them, and the counter is exact
    assert run.exit_code == EXIT_LOADED
    assert _students(db) == [
        ("ADA-1815", "Ada", "Lovelace", "Ada@Example.org", date(1990, 12, 10), "graduated", date(2020, 9, 1)),
        ("S00000001", "Grace", "Hopper", "grace@example.org", None, "active", date.today()),  # noqa: DTZ011 - the server's day
    ]
    assert _counter(db) == 2
    # And each has one `create` audit row naming the importing account, with the run id as correlation id
    [(actor, role, action, correlation_id, rows)] = db.execute(
        "SELECT actor, actor_role, action, correlation_id, count(*) FROM student_audit GROUP BY 1, 2, 3, 4"
    ).fetchall()
    assert actor.startswith("import:")
    assert (role, action, correlation_id, rows) == ("admin", "create", run.log_line["run_id"], 2)
    assert db.execute("SELECT count(*) FROM students JOIN student_audit ON student_id = students.id").fetchone() == (2,)
    # And the summary says so, and the report has no rows
    assert "read 2  loaded 2  already present 0  rejected 0" in run.stderr
    assert run.report == []


def test_invalid_rows_are_reported_by_line_field_and_reason_never_by_value(db, run_import, tmp_path):
    # Given valid rows around invalid ones whose values are distinctive
    path = write_csv(
        tmp_path / "students.csv",
        [
            ("Ada", "Lovelace", "ada@example.org", "", "", "", ""),
            ("Zebulon", "Quixotic", "zebulon-at-nowhere", "", "", "", ""),  # line 3: email
            ("", "Xanthippe", "xanthippe@example.org", "", "1850-01-01", "expelled", ""),  # line 4: three fields
            ("Grace", "Hopper", "grace@example.org", "", "", "", ""),
            ("Ignatius", "Onlyfour", "ignatius@example.org"),  # line 6: too few cells
            ("Hedy", "Lamarr", "hedy@example.org", "S12345678", "", "", ""),  # line 7: reserved number shape
        ],
        header=FULL_HEADER,
    )

    # When it is imported
    run = run_import(path)

    # Then the valid rows loaded, and the run is not a success
    assert run.exit_code == EXIT_REJECTED
    assert [row[3] for row in _students(db)] == ["ada@example.org", "grace@example.org"]
    assert _counter(db) == 2
    # And each invalid row is reported by its line in the file, each bad field with the reason
    assert [(row["line"], row["field"]) for row in run.report] == [
        ("3", "email"),
        ("4", "date_of_birth"),
        ("4", "first_name"),
        ("4", "status"),
        ("6", ""),
        ("7", "student_number"),
    ]
    reasons = {(row["line"], row["field"]): row["reason"] for row in run.report}
    assert reasons[("4", "status")] == "Input should be 'active', 'inactive', 'graduated' or 'withdrawn'"
    assert reasons[("6", "")] == "the row has 3 cells, the header 7"
    # And no value of any row is in the report, the output or the log
    report_text = (tmp_path / "rejected.csv").read_text()
    for value in (
        "Zebulon",
        "Quixotic",
        "zebulon-at-nowhere",
        "Xanthippe",
        "1850-01-01",
        "expelled",
        "Ignatius",
        "Onlyfour",
        "Hedy",
        "S12345678",
        "Ada",
        "ada@example.org",
        "Grace",
    ):
        assert value not in report_text
        assert value not in run.stdout
        assert value not in run.stderr
    assert "read 6  loaded 2  already present 0  rejected 4" in run.stderr
    assert {key: run.log_line[key] for key in ("outcome", "read", "loaded", "already_present", "rejected")} == {
        "outcome": "rejected_rows",
        "read": 6,
        "loaded": 2,
        "already_present": 0,
        "rejected": 4,
    }


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (("first_name", "last_name", "email", "phone"), "unknown column(s) 'phone'"),
        (("first_name", "email"), "missing column(s) last_name"),
        (("first_name", "last_name", "email", "email"), "repeated column(s) email"),
    ],
)
def test_a_wrong_header_refuses_the_file_before_anything_loads(db, run_import, tmp_path, header, message):
    # Given a file whose rows would be valid but whose header is wrong
    path = write_csv(tmp_path / "students.csv", [("Ada", "Lovelace", "ada@example.org", "x")], header=header)

    # When it is imported
    run = run_import(path)

    # Then the file is refused with a message naming the problem, and nothing loaded
    assert run.exit_code == EXIT_FAILED
    assert message in run.stderr
    assert "Expected first_name, last_name, email and optionally" in run.stderr
    assert _count(db, "students") == _count(db, "student_audit") == 0
    assert run.log_line["outcome"] == "failed"


def test_importing_the_same_file_again_creates_no_duplicates(db, run_import, tmp_path):
    # Given a file imported once, and a student created since with one of its emails in another case
    path = write_csv(
        tmp_path / "students.csv",
        [
            ("Ada", "Lovelace", "ada@example.org", "ADA-1815", "", "", ""),
            ("Grace", "Hopper", "grace@example.org", "", "", "", ""),
        ],
        header=FULL_HEADER,
    )
    assert run_import(path).exit_code == EXIT_LOADED
    students_before, audit_rows_before = _students(db), _count(db, "student_audit")
    again = write_csv(
        tmp_path / "again.csv",
        [
            ("Ada", "Lovelace", "ADA@EXAMPLE.ORG", "ADA-1815", "", "", ""),
            ("Grace", "Hopper", "grace@example.org", "", "", "", ""),
            ("Hedy", "Lamarr", "hedy@example.org", "", "", "", ""),
        ],
        header=FULL_HEADER,
    )

    # When the same rows are imported again, with one new student
    run = run_import(again)

    # Then the known ones are "already present", not errors, and only the new one loaded
    assert run.exit_code == EXIT_LOADED
    assert "read 3  loaded 1  already present 2  rejected 0" in run.stderr
    *known, new = _students(db)
    assert known == students_before
    assert _count(db, "student_audit") == audit_rows_before + 1
    assert _counter(db) == 3
    # And the re-run spent no student number on the rows it left out
    assert new[:2] == ("S00000002", "Hedy")


def test_the_same_email_twice_in_a_file_is_reported_on_the_later_line(db, run_import, tmp_path):
    # Given a file with one email twice, in two cases, and one student number twice
    path = write_csv(
        tmp_path / "students.csv",
        [
            ("Ada", "Lovelace", "ada@example.org", "N-100"),
            ("Grace", "Hopper", "grace@example.org", "N-200"),
            ("Augusta", "King", "ADA@example.ORG", "N-300"),
            ("Hedy", "Lamarr", "hedy@example.org", "N-100"),
        ],
        header=("first_name", "last_name", "email", "student_number"),
    )

    # When it is imported
    run = run_import(path)

    # Then the first occurrences loaded, and the later ones are reported, naming the earlier line
    assert run.exit_code == EXIT_REJECTED
    assert [row[1] for row in _students(db)] == ["Ada", "Grace"]
    assert run.report == [
        {"line": "4", "field": "email", "reason": "the same email (any case) as line 2"},
        {"line": "5", "field": "student_number", "reason": "the same student number as line 2"},
    ]


def test_a_student_number_held_by_another_student_is_reported(db, run_import, tmp_path):
    # Given a student holding a number
    assert (
        run_import(
            write_csv(
                tmp_path / "first.csv",
                [("Ada", "Lovelace", "ada@example.org", "N-100")],
                header=("first_name", "last_name", "email", "student_number"),
            )
        ).exit_code
        == 0
    )

    # When another student is imported with that number, beside a valid row
    run = run_import(
        write_csv(
            tmp_path / "second.csv",
            [("Grace", "Hopper", "grace@example.org", "N-100"), ("Hedy", "Lamarr", "hedy@example.org", "N-200")],
            header=("first_name", "last_name", "email", "student_number"),
        )
    )

    # Then that row is rejected and the other loaded
    assert run.exit_code == EXIT_REJECTED
    assert run.report == [{"line": "2", "field": "student_number", "reason": "already held by another student"}]
    assert [row[1] for row in _students(db)] == ["Ada", "Hedy"]
    assert _counter(db) == 2


def test_a_failure_after_staging_loads_nothing(db, run_import, tmp_path):
    # Given a rule only the database knows (the model cannot catch it before the rows are staged)
    db.execute("ALTER TABLE students ADD CONSTRAINT test_no_forbidden_names CHECK (last_name <> 'Forbidden')")
    try:
        path = write_csv(
            tmp_path / "students.csv",
            [
                ("Ada", "Lovelace", "ada@example.org"),
                ("Grace", "Forbidden", "grace@example.org"),
                ("Hedy", "Lamarr", "hedy@example.org"),
            ],
        )

        # When the file is imported
        run = run_import(path)
    finally:
        db.execute("ALTER TABLE students DROP CONSTRAINT test_no_forbidden_names")

    # Then the run failed as a whole: no student, no audit row, the counter untouched
    assert run.exit_code == EXIT_FAILED
    assert _count(db, "students") == _count(db, "student_audit") == _counter(db) == 0
    # And the message names the rule, never the row
    assert "the record violates the rule test_no_forbidden_names; nothing was loaded" in run.stderr
    assert "Grace" not in run.stdout + run.stderr


def test_a_file_that_breaks_off_midway_loads_nothing(db, run_import, tmp_path):
    # Given a file whose first rows are valid and whose end is not UTF-8
    path = tmp_path / "students.csv"
    path.write_bytes(b"first_name,last_name,email\nAda,Lovelace,ada@example.org\nGr\xe2ce,Hopper,grace@example.org\n")

    # When it is imported
    run = run_import(path)

    # Then the file is refused, and even its valid rows were not loaded
    assert run.exit_code == EXIT_FAILED
    assert "not UTF-8" in run.stderr
    assert _count(db, "students") == 0


def test_rows_are_named_by_the_line_they_start_on(db, run_import, tmp_path):
    # Given blank lines and a quoted cell that spans two lines before an invalid row
    path = tmp_path / "students.csv"
    path.write_text(
        'first_name,last_name,email\n\nAda,"Love\nlace",ada@example.org\nGrace,Hopper,not-an-email\n\n',
        encoding="utf-8",
    )

    # When it is imported
    run = run_import(path)

    # Then each rejection names the row's first line in the file (a line break is no name character)
    assert [(row["line"], row["field"]) for row in run.report] == [("3", "last_name"), ("5", "email")]
    assert "read 2  loaded 0" in run.stderr


def test_statements_are_observed_and_the_log_line_holds_counts_only(db, run_import, tmp_path):
    # Given a small valid file
    path = write_csv(tmp_path / "students.csv", [("Ada", "Lovelace", "ada@example.org")])

    # When it is imported
    run = run_import(path)

    # Then every statement of the import has its latency metric, under its query name
    documents = [json.loads(line) for line in run.stdout.splitlines() if '"_aws"' in line]
    observed = {document["QueryName"] for document in documents if "QueryName" in document}
    assert {
        "imports.today",
        "imports.present_emails",
        "imports.reserve_ids",
        "imports.copy_students",
        "imports.copy_audit",
    } <= observed
    # And the log line carries the counts and the run id, nothing of the file or its rows
    assert {"run_id", "outcome", "read", "loaded", "already_present", "rejected", "seconds", "rows_per_s"} <= set(
        run.log_line
    )
    assert "students.csv" not in run.stdout and "ada@example.org" not in run.stdout


def test_loaded_students_count_as_created_and_a_rerun_counts_none(db, run_import, tmp_path):
    # Given a file of three students, one of them invalid
    path = write_csv(
        tmp_path / "students.csv",
        [("Ada", "Lovelace", "ada@example.org"), ("Alan", "Turing", "alan@example.org"), ("Bad", "Row", "no-at")],
    )

    def students_created(run) -> int:
        documents = [json.loads(line) for line in run.stdout.splitlines() if '"_aws"' in line]
        return sum(document.get("StudentsCreated", 0) for document in documents)

    # When it is imported twice
    first, second = run_import(path), run_import(path)
    # Then the first run counts its two loaded students as created, as the API counts each create; the second none
    assert (students_created(first), students_created(second)) == (2, 0)


def test_a_generated_file_of_200k_students_loads_exactly(db, run_import, tmp_path):
    # Given 200,000 generated students
    path = tmp_path / "generated.csv"
    write_fake_students(path, 200_000)

    # When they are imported
    run = run_import(path)

    # Then every one loaded, once, with its audit row and a number of its own, and the counter is exact
    assert run.exit_code == EXIT_LOADED
    assert run.log_line["loaded"] == 200_000
    assert db.execute(
        "SELECT count(*), count(DISTINCT student_number), count(DISTINCT lower(email)) FROM students"
    ).fetchone() == (200_000, 200_000, 200_000)
    assert _count(db, "student_audit") == _counter(db) == 200_000
    print(f"\n{run.stderr.strip()}")  # the rows/s, for whoever runs this with -s


def test_generated_files_are_the_same_every_time_and_valid(tmp_path):
    # Given two files generated with the same count
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    write_fake_students(first, 500)
    write_fake_students(second, 500)

    # Then they are identical, every row valid under the API's rules, every email different
    assert first.read_bytes() == second.read_bytes()
    rows = list(csv.DictReader(first.open(encoding="utf-8")))
    students = [StudentCreate.model_validate_strings(row) for row in rows]
    assert len(students) == 500 and len({student.email.lower() for student in students}) == 500
