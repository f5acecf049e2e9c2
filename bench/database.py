"""The bench's PostgreSQL: the embedded server in a scratch directory, the project's migrations, and students
loaded with COPY: the growth to 10M and the profile's COPY ablations (the table's first N students come through
the import path, bench/bulk_import.py)."""

import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from local_stack.embedded_postgres import EmbeddedPostgres
from local_stack.seed import FIRST_NAMES, LAST_NAMES
from student_records.data import migrations

from .common import SCRATCH_DIR, log

DATABASE_NAME = "student_records"
COPY_BATCH_ROWS = 100_000
_COPY_COLUMNS = "first_name, last_name, email, date_of_birth, status, enrolled_on"
# The demo seed's mix (80/8/9/3 %), spread evenly over every 100 ids so that any id range has it.
_STATUSES = random.Random(2026).sample(["active"] * 80 + ["inactive"] * 8 + ["graduated"] * 9 + ["withdrawn"] * 3, 100)
_BIRTH_DATES = [
    f"{1995 + year}-{month:02d}-{day:02d}" for year in range(12) for month in range(1, 13) for day in (3, 17)
]
_ENROLLED_ON = [f"{year}-09-01" for year in range(2020, 2027)]


@dataclass
class LoadResult:
    rows: int
    copy_seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.copy_seconds


class BenchDatabase:
    """A fresh cluster per run: no data from an earlier run (or from `make run`) can skew a number."""

    def __init__(self, data_dir: Path = SCRATCH_DIR / "postgres") -> None:
        self.server = EmbeddedPostgres(data_dir, log=log)
        self.data_dir = data_dir
        self.url = ""
        self.loaded_rows = 0

    def start_fresh(self) -> None:
        if self.server.is_running():
            self.server.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.server.start()
        self.server.ensure_database(DATABASE_NAME)
        self.url = self.server.dsn(DATABASE_NAME)
        applied = migrations.migrate(self.url, log=log)
        log(f"schema at version {migrations.latest_version()} ({len(applied)} migrations applied)")

    def stop(self, keep_data: bool) -> None:
        self.server.stop()
        if not keep_data:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def server_facts(self) -> dict[str, str]:
        with psycopg.connect(self.url, autocommit=True) as connection:
            return {
                name: connection.execute(f"SHOW {name}").fetchone()[0]
                for name in ("server_version", "shared_buffers", "synchronous_commit", "fsync", "max_connections")
            }

    def postmaster_pid(self) -> int:
        return int((self.data_dir / "postmaster.pid").read_text().split()[0])

    def checkpoint(self) -> None:
        """Between phases: dirty pages written now, not in the middle of the next measurement."""
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("CHECKPOINT")

    def table_rows(self) -> int:
        with psycopg.connect(self.url, autocommit=True) as connection:
            return connection.execute("SELECT row_count FROM row_counts WHERE table_name = 'students'").fetchone()[0]

    def load_students(self, target_rows: int) -> LoadResult:
        """COPY students until the table holds target_rows; only the COPY statements are timed."""
        first_number = self.loaded_rows + 1
        to_load = target_rows - self.loaded_rows
        copy_seconds = 0.0
        with psycopg.connect(self.url, autocommit=True) as connection:
            for batch_start in range(first_number, target_rows + 1, COPY_BATCH_ROWS):
                batch_rows = min(COPY_BATCH_ROWS, target_rows + 1 - batch_start)
                copy_seconds += copy_students(connection, batch_start, batch_rows)
                self.loaded_rows = batch_start + batch_rows - 1
                done = self.loaded_rows - first_number + 1
                log(f"COPY {done:,} / {to_load:,} students ({done / copy_seconds:,.0f} rows/s)")
        self.settle()
        return LoadResult(to_load, copy_seconds)

    def imported(self, rows: int) -> None:
        """`rows` students were loaded by the import path: the COPY loader numbers its students after them."""
        self.loaded_rows = rows
        self.settle()

    def settle(self) -> None:
        """After a bulk load: the table as autovacuum would leave it, and its pages written."""
        log("VACUUM ANALYZE students (visibility map and planner statistics, as autovacuum would leave them)")
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE) students")
            connection.execute("CHECKPOINT")


def copy_students(
    connection: psycopg.Connection, first_number: int, count: int, student_numbers: bool = False
) -> float:
    """COPY `count` students numbered from `first_number`; returns the seconds the COPY took (the rows are
    made before). Without student numbers the column's default generates them, as for any insert."""
    columns = f"{_COPY_COLUMNS}, student_number" if student_numbers else _COPY_COLUMNS
    data = _copy_text(first_number, count, student_numbers)
    started = time.perf_counter()
    with connection.cursor().copy(f"COPY students ({columns}) FROM STDIN") as copy:
        copy.write(data)
    return time.perf_counter() - started


def _copy_text(first_number: int, count: int, student_numbers: bool) -> bytes:
    """Rows shaped like the demo seed's, each email unique through its number."""
    lines = []
    for number in range(first_number, first_number + count):
        first_name = FIRST_NAMES[number % len(FIRST_NAMES)]
        last_name = LAST_NAMES[(number // len(FIRST_NAMES)) % len(LAST_NAMES)]
        # B, not S: numbers of the form S######## are reserved for the ones the database generates.
        student_number = f"\tB{number:08d}" if student_numbers else ""
        lines.append(
            f"{first_name}\t{last_name}\t{first_name.lower()}.{last_name.lower()}.{number}@bench.example.edu\t"
            f"{_BIRTH_DATES[number % len(_BIRTH_DATES)]}\t{_STATUSES[number % 100]}\t"
            f"{_ENROLLED_ON[number % len(_ENROLLED_ON)]}{student_number}\n"
        )
    return "".join(lines).encode()
