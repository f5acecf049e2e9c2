"""`student-records-import FILE.csv`: validates and loads students from a CSV file, under the policy in
student_records/students/importer.py (per row, one transaction, idempotent re-runs).

    python -m local_stack.import_students students.csv [--report rejected.csv] [--database-url URL]
    python -m local_stack.import_students --generate 1000000 students.csv   # writes N valid fake students

Which database: --database-url, else DATABASE_URL (or DB_HOST and friends), else the embedded server of
`make run` in .data/postgres, started (and stopped again afterwards) when it is not running.

Output: a progress line on stderr while a terminal watches, then a summary there; the rejected rows in the
report (CSV: line, field, reason; by default beside the file, students.csv -> students.rejected.csv;
emptied by every run, so it never shows an older run's rows); one JSON log line on stdout with the counts,
and the statements' EMF metrics.

Exit status: 0 every row loaded or already present; 1 some rows were rejected, the others loaded;
2 nothing was loaded (the file was refused, or the database failed); 130 interrupted, nothing loaded.
"""

import argparse
import csv
import getpass
import os
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import psycopg

from application.settings import Settings
from observability import exception_fields, install, installed, logger
from student_records.access import Caller, Role
from student_records.data import migrations
from student_records.data.database import Database
from student_records.errors import DomainError
from student_records.settings import ConfigurationError
from student_records.students.importer import ImportSummary, Rejection, import_students

from .embedded_postgres import DEFAULT_DATA_DIR, EmbeddedPostgres, EmbeddedPostgresError
from .seed import FIRST_NAMES, LAST_NAMES

DATABASE_NAME = "student_records"
EXIT_LOADED, EXIT_REJECTED, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 130
# The COPY lasts as long as the file takes to read and validate: the API's 5 s limit would cut any large import.
IMPORT_STATEMENT_TIMEOUT_MS = 60 * 60 * 1000
# A command has no client waiting: it may wait for its one connection (e.g. a server still starting).
IMPORT_POOL_TIMEOUT_S = 30.0
REPORT_HEADER = ("line", "field", "reason")
PROGRESS_INTERVAL_S = 0.5


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.generate is not None:
        write_fake_students(arguments.file, arguments.generate)
        print(f"wrote {arguments.generate:,} students to {arguments.file}", file=sys.stderr)
        return EXIT_LOADED
    report = arguments.report or arguments.file.with_suffix(".rejected.csv")
    if report.resolve() == arguments.file.resolve():
        _parser().error("the report would overwrite the file to import")
    run_id = f"import-{uuid.uuid4()}"
    try:
        with _open_csv(arguments.file) as lines:
            report.write_text("")  # emptied now: a report that cannot be written fails before anything loads
            with _database(arguments.database_url) as database:
                progress = ProgressLine(sys.stderr, lines.buffer.tell, arguments.file.stat().st_size)
                try:
                    summary = import_students(database, _importing_caller(run_id), lines, progress)
                finally:
                    progress.close()
    except KeyboardInterrupt:
        return _failed(run_id, "interrupted; nothing was loaded", EXIT_INTERRUPTED)
    except (DomainError, ConfigurationError, EmbeddedPostgresError, OSError) as error:
        # Our own messages: they name columns, lines and rules, never a row's values.
        return _failed(run_id, f"{error}; nothing was loaded", EXIT_FAILED, error)
    except psycopg.Error as error:
        # Driver messages can quote a row ("Failing row contains ..."): the SQLSTATE and type only.
        return _failed(
            run_id,
            f"database error {error.sqlstate or ''} ({type(error).__name__}); nothing was loaded",
            EXIT_FAILED,
            error,
        )
    finally:
        installed().flush()
    write_report(report, summary.rejections)
    print(_summary_text(summary, report), file=sys.stderr)
    logger.info("import", extra=_log_fields(summary))
    return EXIT_REJECTED if summary.rejected else EXIT_LOADED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="student-records-import",
        description="Validate and load students from a CSV file (header: first_name,last_name,email and optionally"
        " student_number,date_of_birth,status,enrolled_on). Valid rows load in one transaction; rejected rows are"
        " reported by line, field and reason; students whose email is already there are left as they are.",
    )
    parser.add_argument("file", type=Path, help="the CSV file (UTF-8); with --generate, the file to write")
    parser.add_argument(
        "--report", type=Path, help="where to write the rejected rows (default: beside FILE, as NAME.rejected.csv)"
    )
    parser.add_argument(
        "--database-url",
        help="libpq URI or key=value string (default: DATABASE_URL, else the embedded server of `make run`)",
    )
    parser.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help="write N valid fake students to FILE (the same N every time) instead of importing",
    )
    return parser


def _importing_caller(run_id: str) -> Caller:
    # The audit trail names the operating-system account that ran the import.
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid, as in some containers
        account = f"uid-{os.getuid()}"
    return Caller(subject=f"import:{account}", role=Role.ADMIN, correlation_id=run_id)


@contextmanager
def _database(url: str | None) -> Iterator[Database]:
    environ = {**os.environ, "DB_APPLICATION_NAME": "student-records-import"}
    server: EmbeddedPostgres | None = None
    started_here = False
    if url:
        environ["DATABASE_URL"] = url
    elif not (environ.get("DATABASE_URL") or environ.get("DB_HOST")):
        # As `make run` does: the embedded server, migrated.
        port = int(environ["EMBEDDED_PG_PORT"]) if environ.get("EMBEDDED_PG_PORT") else None
        server = EmbeddedPostgres(Path(environ.get("EMBEDDED_PG_DIR", DEFAULT_DATA_DIR)), port=port)
        started_here = not server.is_running()
        server.start()
        server.ensure_database(DATABASE_NAME)
        environ["DATABASE_URL"] = server.dsn(DATABASE_NAME)
        migrations.migrate(environ["DATABASE_URL"])
    settings = Settings.from_environ(environ)
    install(settings.observability)
    database = Database(
        settings.database.model_copy(
            update={
                "statement_timeout_ms": IMPORT_STATEMENT_TIMEOUT_MS,
                "pool_min_size": 1,
                "pool_max_size": 1,
                "pool_timeout_s": IMPORT_POOL_TIMEOUT_S,
            }
        )
    )
    try:
        yield database
    finally:
        database.close()
        if server is not None and started_here:
            server.stop()


@contextmanager
def _open_csv(path: Path) -> Iterator[TextIO]:
    # utf-8-sig: spreadsheets often start their CSV with a byte-order mark; newline="" as the csv module asks.
    with path.open(encoding="utf-8-sig", newline="") as lines:
        yield lines


class ProgressLine:
    """A progress bar on one line of a terminal, redrawn at most every PROGRESS_INTERVAL_S; silent when the
    stream is not a terminal (CI logs, redirects), where the summary says it all."""

    WIDTH = 30

    def __init__(self, stream: TextIO, bytes_read: Callable[[], int], total_bytes: int) -> None:
        self._stream = stream
        self._shown = stream.isatty()
        self._bytes_read = bytes_read
        self._total_bytes = total_bytes
        self._started = time.perf_counter()
        self._drawn_at = 0.0
        self._drawn = False

    def rows_read(self, count: int) -> None:
        now = time.perf_counter()
        if not self._shown or now - self._drawn_at < PROGRESS_INTERVAL_S:
            return
        self._drawn_at = now
        # The reader is ahead of the rows by one buffer at most: close enough for a bar.
        done = min(self._bytes_read() / self._total_bytes, 1.0) if self._total_bytes else 0.0
        filled = round(done * self.WIDTH)
        rate = count / (now - self._started)
        self._draw(f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:4.0%}  {count:,} rows  {rate:,.0f} rows/s")

    def loading(self) -> None:
        if self._shown:
            self._draw("all rows read and validated; loading the last of them into students ...")

    def close(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, text: str) -> None:
        self._stream.write(f"\r{text}\x1b[K")  # \x1b[K clears what a longer previous line left
        self._stream.flush()
        self._drawn = True


def write_report(path: Path, rejections: list[Rejection]) -> None:
    with path.open("w", encoding="utf-8", newline="") as report:
        writer = csv.writer(report)
        writer.writerow(REPORT_HEADER)
        writer.writerows((rejection.line, rejection.field, rejection.reason) for rejection in rejections)


def _summary_text(summary: ImportSummary, report: Path) -> str:
    text = (
        f"read {summary.read:,}  loaded {summary.loaded:,}  already present {summary.already_present:,}"
        f"  rejected {summary.rejected:,}  in {summary.seconds:.1f} s ({summary.rows_per_s:,.0f} rows/s)"
        f"  run {summary.run_id}"
    )
    if summary.rejected:
        text += f"\nrejected rows: line, field and reason in {report}"
    return text


def _log_fields(summary: ImportSummary) -> dict[str, object]:
    # Counts and the run id only: the file's name and rows may be personal data.
    return {
        "run_id": summary.run_id,
        "outcome": "rejected_rows" if summary.rejected else "loaded",
        "read": summary.read,
        "loaded": summary.loaded,
        "already_present": summary.already_present,
        "rejected": summary.rejected,
        "seconds": round(summary.seconds, 3),
        "rows_per_s": round(summary.rows_per_s),
    }


def _failed(run_id: str, message: str, status: int, error: BaseException | None = None) -> int:
    print(f"import failed: {message}", file=sys.stderr)
    fields: dict[str, object] = {"run_id": run_id, "outcome": "failed"}
    if error is not None:
        fields.update(exception_fields(error))
    logger.error("import", extra=fields)
    return status


# Fake students for benchmarks and demos: valid under the API's rules, unique emails, the same file every time.
_STATUSES = ["active"] * 80 + ["inactive"] * 8 + ["graduated"] * 9 + ["withdrawn"] * 3
_GENERATED_COLUMNS = ("first_name", "last_name", "email", "date_of_birth", "status", "enrolled_on")


def write_fake_students(path: Path, count: int, seed: int = 2026) -> None:
    """`count` valid students with unique emails; the same file for the same count and seed."""
    rng = random.Random(seed)
    birth_dates = [
        f"{year}-{month:02d}-{day:02d}"
        for year in range(1990, 2008)
        for month in range(1, 13)
        for day in (1, 9, 17, 25)
    ]
    enrolled_on = [f"{year}-09-01" for year in range(2018, 2026)]
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(_GENERATED_COLUMNS)
        for number in range(1, count + 1):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            writer.writerow(
                (
                    first,
                    last,
                    f"{first}.{last}.{number}@import.example.edu".lower(),
                    rng.choice(birth_dates),
                    rng.choice(_STATUSES),
                    rng.choice(enrolled_on),
                )
            )


if __name__ == "__main__":
    sys.exit(main())
