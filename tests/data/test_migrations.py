"""sql/ migrations: in order, recorded, idempotent, all-or-nothing per file, edits detected."""

import shutil
import threading

import psycopg
import pytest

from student_records.data import migrations

ALL = [f"{n:04d}" for n in range(1, len(list(migrations.SQL_DIR.glob("*.sql"))) + 1)]


def _tables(conninfo):
    with psycopg.connect(conninfo) as connection:
        return {
            row[0]
            for row in connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }


def _versions(conninfo):
    with psycopg.connect(conninfo) as connection:
        return [row[0] for row in connection.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_applies_every_file_in_order_and_records_it(empty_database):
    applied = migrations.migrate(empty_database)
    assert applied == [m.version for m in migrations.discover()] == ALL
    assert _versions(empty_database) == ALL
    assert {"students", "row_counts", "schema_migrations"} <= _tables(empty_database)


def test_second_run_is_a_no_op(empty_database):
    migrations.migrate(empty_database)
    assert migrations.migrate(empty_database) == []
    assert _versions(empty_database) == ALL


def test_failing_migration_leaves_the_database_unchanged(empty_database, tmp_path):
    # Given the real migrations plus one that creates a table, then fails
    for path in migrations.SQL_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    (tmp_path / "0099_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();\n")
    # When migrating
    with pytest.raises(migrations.MigrationError, match="0099_broken failed and was rolled back"):
        migrations.migrate(empty_database, tmp_path)
    # Then the good ones stay applied and nothing of the broken one remains
    assert _versions(empty_database) == ALL
    assert "half_done" not in _tables(empty_database)


def test_an_edited_applied_migration_is_refused(empty_database, tmp_path):
    for path in migrations.SQL_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    migrations.migrate(empty_database, tmp_path)
    (tmp_path / "0001_students.sql").write_text("-- edited\n" + (tmp_path / "0001_students.sql").read_text())
    with pytest.raises(migrations.MigrationError, match="changed after it was applied"):
        migrations.migrate(empty_database, tmp_path)


def test_badly_named_file_is_refused(tmp_path):
    (tmp_path / "1_students.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="NNNN_snake_case"):
        migrations.discover(tmp_path)


def test_concurrent_migrators_apply_each_file_once(empty_database):
    results, errors = [], []

    def run():
        try:
            results.append(migrations.migrate(empty_database))
        except Exception as error:  # noqa: BLE001 - collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results, key=len) == [[], [], [], ALL]
