"""The students counter is exact after every commit, including under concurrent writers and rollbacks."""

import threading

import psycopg


def _counter(db):
    return db.execute("SELECT row_count FROM row_counts WHERE table_name = 'students'").fetchone()[0]


def _actual(db):
    return db.execute("SELECT count(*) FROM students").fetchone()[0]


def test_counter_follows_bulk_inserts_deletes_and_truncate(db):
    with db.cursor().copy("COPY students (first_name, last_name, email) FROM STDIN") as copy:
        for i in range(1000):
            copy.write_row(("F", "L", f"bulk{i}@example.org"))
    assert _counter(db) == 1000
    db.execute("DELETE FROM students WHERE id % 4 = 0")
    assert _counter(db) == _actual(db) == 750
    db.execute("TRUNCATE students CASCADE")  # enrollments reference students
    assert _counter(db) == 0


def test_rolled_back_inserts_are_not_counted(db, database_conninfo):
    with psycopg.connect(database_conninfo) as connection:
        connection.execute("INSERT INTO students (first_name, last_name, email) VALUES ('A', 'B', 'r@example.org')")
        connection.rollback()
    assert _counter(db) == 0


def test_concurrent_writers_keep_the_counter_exact(db, database_conninfo):
    # Given 8 writers, each inserting 50 rows in separate transactions and deleting every fifth
    def writer(number: int) -> None:
        with psycopg.connect(database_conninfo, autocommit=True) as connection:
            for i in range(50):
                row = connection.execute(
                    "INSERT INTO students (first_name, last_name, email) VALUES ('W', 'R', %s) RETURNING id",
                    (f"w{number}-{i}@example.org",),
                ).fetchone()
                if i % 5 == 0:
                    connection.execute("DELETE FROM students WHERE id = %s", row)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then the counter equals the true count
    assert _actual(db) == 8 * 40
    assert _counter(db) == _actual(db)
