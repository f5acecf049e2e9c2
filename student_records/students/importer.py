"""Bulk import of students from a CSV file, under the API's own rules.

Policy:

- The file is UTF-8 CSV (a byte-order mark is allowed) with a header row: first_name, last_name and email,
  and any of student_number, date_of_birth, status and enrolled_on, in any order. An unknown, missing or
  repeated column refuses the whole file before anything reaches the database.
- Each row is validated by StudentCreate exactly as the API validates a POST body (cells are text, as JSON
  strings are). An empty cell of an optional column means "not given": a generated student number, no date
  of birth, active, enrolled today.
- Per row: valid rows load; invalid rows are reported by line (the header is line 1), field and reason,
  never with their values, which are personal data. A run that rejected any row is not a success.
- One transaction: all valid rows of a run load together, or none do (a crash, an interruption or a rule
  only the database knows about loads nothing).
- Idempotent: a row whose email (any case) already belongs to a student is "already present", not an
  error, and changes nothing, so a file can be imported again; so is a row whose email or number a concurrent
  writer (the API) takes while the import runs. Within the file, the same email or the same
  student number twice is reported on the later line. A chosen student number that another student holds
  is reported too.
- Audited: each loaded student gets a `create` audit row naming the importing caller, with the run id as
  correlation id, copied right after the students in the same savepoint: it loads with them or not at all.

Speed: a thread reads each row, validates it with StudentCreate.model_validate_strings (the model's own rules,
about 2 µs; the whole Python side is about 7 µs a row) and writes it as CSV, while the database loads the
batch before (FIRST_BATCH_ROWS, doubling up to BATCH_ROWS, each in email order): one index lookup per row for
the emails already present, then COPY into students and COPY into student_audit (import_repository.py). That side
is about 9-10 µs of one server process's CPU per row (the heap, six indexes, the CHECKs, the audit row and its
two indexes), and one transaction is one server process: on two cores, with the Python side beside it, 1M rows
take 11-15 s (bench/README.md §5).
"""

import csv
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from observability import business

from ..access import Caller, require_writer
from ..data.database import Database
from ..errors import DomainError
from .import_repository import ROW_COLUMNS, ImportRepository, StagedBatch
from .models import StudentCreate

REQUIRED_COLUMNS = ("first_name", "last_name", "email")
OPTIONAL_COLUMNS = ("student_number", "date_of_birth", "status", "enrolled_on")
HEADER_LINE = 1
# Valid rows per batch: large enough that a batch's statements cost nothing per row, small enough that the
# first and the last batch (the only ones validation and loading do not overlap) are short. Each batch is a
# savepoint; past 64 of them (6.4M rows) concurrent readers check the import's rows in pg_subtrans.
BATCH_ROWS = 100_000
# The first batch is small and each next one twice as large, up to BATCH_ROWS: the database starts loading
# after 10,000 rows are validated rather than 100,000.
FIRST_BATCH_ROWS = 10_000
_PROGRESS_EVERY_ROWS = 8192
# A staged row's cells are import_repository.ROW_COLUMNS in order; the last, enrolled_on, defaults to the import's day.
_CELLS_BEFORE_ENROLMENT = attrgetter(*ROW_COLUMNS[:-1])


class ImportRefused(DomainError):
    """The file cannot be imported at all (its header, its encoding, its CSV); nothing was loaded."""


@dataclass(frozen=True, order=True)
class Rejection:
    line: int  # in the file, the header being line 1: what a spreadsheet or an editor shows
    field: str  # a column name, or "" when the row as a whole is wrong
    reason: str  # never quotes the value


@dataclass(frozen=True)
class ImportSummary:
    run_id: str
    read: int
    loaded: int
    already_present: int
    rejected: int  # rows; a row has one rejection per bad field
    rejections: list[Rejection] = field(repr=False)
    seconds: float

    @property
    def rows_per_s(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0


class ImportProgress(Protocol):
    def rows_read(self, count: int) -> None: ...

    def loading(self) -> None:
        """Every row is read and validated; the database is loading the last of them into students."""


def import_students(
    database: Database, caller: Caller, lines: Iterable[str], progress: ImportProgress | None = None
) -> ImportSummary:
    """Validates and loads the students of a CSV file (`lines`, e.g. the open file), all in one transaction."""
    require_writer(caller)
    started = time.perf_counter()
    rows = _StagedRows(lines, progress)  # reads the header: a refused file never opens a transaction
    taken: list[int] = []
    loaded = 0
    with database.transaction() as session:
        imports = ImportRepository(session)
        with _read_ahead(rows.staging_batches(imports.today())) as batches:
            for batch, last in batches:
                if last and progress is not None:
                    progress.loading()
                new, held_lines = _new_students(imports, batch)
                taken += held_lines
                loaded += imports.insert(new, caller)
    if loaded:  # committed: the dashboards' students-created count includes imports
        business.student_created(loaded)
    rejections = sorted(
        rows.rejections + [Rejection(line, "student_number", "already held by another student") for line in taken]
    )
    rejected = len({rejection.line for rejection in rejections})
    return ImportSummary(
        run_id=caller.correlation_id,
        read=rows.read,
        loaded=loaded,
        already_present=rows.read - rejected - loaded,
        rejected=rejected,
        rejections=rejections,
        seconds=time.perf_counter() - started,
    )


def _new_students(imports: ImportRepository, batch: StagedBatch) -> tuple[StagedBatch, list[int]]:
    """The batch without the students already present (imported before: a row's number, if any, is theirs
    too) and without the rows whose chosen number another student holds, and the lines of those rows."""
    present = imports.present_emails(batch.email_keys)
    if present:
        batch = batch.keeping([i for i, key in enumerate(batch.email_keys) if key not in present])
    if not any(batch.student_numbers):
        return batch, []
    held = imports.held_student_numbers([number for number in batch.student_numbers if number])
    if not held:
        return batch, []
    held_lines = [line for line, number in zip(batch.lines, batch.student_numbers, strict=False) if number in held]
    return batch.keeping([i for i, number in enumerate(batch.student_numbers) if number not in held]), held_lines


def check_header(header: Sequence[str]) -> list[str]:
    """The column names, in file order; ImportRefused unless they are the known ones, each once."""
    columns = [name.strip() for name in header]
    known = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
    problems = []
    unknown = [name for name in columns if name not in known]
    if unknown:
        problems.append(f"unknown column(s) {', '.join(map(repr, unknown))}")
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    if problems:
        raise ImportRefused(
            f"header (line {HEADER_LINE}): {'; '.join(problems)}. Expected {', '.join(REQUIRED_COLUMNS)}"
            f" and optionally {', '.join(OPTIONAL_COLUMNS)}"
        )
    return columns


class _StagedRows:
    """Reads the CSV, validates each row as the API would, and writes the valid ones as staging CSV
    (import_repository.ROW_COLUMNS); keeps the rejections and the count of rows read."""

    def __init__(self, lines: Iterable[str], progress: ImportProgress | None) -> None:
        self._records = csv.reader(lines)
        self._progress = progress
        self.read = 0
        self.rejections: list[Rejection] = []
        self._line_by_email: dict[str, int] = {}
        self._line_by_student_number: dict[str, int] = {}
        with self._readable():
            header = next(self._records, None)
        if header is None:
            raise ImportRefused("the file is empty: it needs a header row")
        self._columns = check_header(header)

    def staging_batches(self, today: date) -> Iterator[tuple[StagedBatch, bool]]:
        """The valid rows in batches (FIRST_BATCH_ROWS, doubling up to BATCH_ROWS) in email order, each with
        whether it is the last; `today` is the enrolment date of the rows that give none."""
        staged: list[tuple[str, int, str | None, str]] = []
        batch_rows = min(FIRST_BATCH_ROWS, BATCH_ROWS)
        write_row = csv.writer(_Lines(), lineterminator="\n").writerow
        next_line = self._records.line_num + 1
        with self._readable():
            for record in self._records:
                # A quoted cell may span lines: a row is named by the line it starts on.
                line, next_line = next_line, self._records.line_num + 1
                if not record:  # a blank line
                    continue
                self.read += 1
                if self._progress is not None and self.read % _PROGRESS_EVERY_ROWS == 0:
                    self._progress.rows_read(self.read)
                student = self._valid_student(line, record)
                if student is None:
                    continue
                row = write_row((*_CELLS_BEFORE_ENROLMENT(student), student.enrolled_on or today))
                staged.append((student.email.lower(), line, student.student_number, row))
                if len(staged) == batch_rows:
                    yield _sorted_batch(staged), False
                    staged = []
                    batch_rows = min(2 * batch_rows, BATCH_ROWS)
        if self._progress is not None:
            self._progress.rows_read(self.read)
        yield _sorted_batch(staged), True

    def _valid_student(self, line: int, record: list[str]) -> StudentCreate | None:
        """The student of a valid record; None, with its rejections kept, for an invalid one."""
        if len(record) != len(self._columns):
            self._reject(line, "", f"the row has {len(record)} cells, the header {len(self._columns)}")
            return None
        # An empty cell of an optional column is a value not given; of a required column, an empty value.
        cells = (
            dict(zip(self._columns, record, strict=False))
            if "" not in record
            else {
                name: cell
                for name, cell in zip(self._columns, record, strict=False)
                if cell or name in REQUIRED_COLUMNS
            }
        )
        try:
            student = StudentCreate.model_validate_strings(cells)
        except ValidationError as error:
            for detail in error.errors(include_url=False, include_input=False, include_context=False):
                self._reject(line, ".".join(map(str, detail["loc"])), detail["msg"])
            return None
        # The unique index compares the database's lower(email); Python's lower() agrees but for a few exotic
        # letters, and where it does not, the INSERT's ON CONFLICT still keeps one student per email.
        first_line = self._line_by_email.setdefault(student.email.lower(), line)
        if first_line != line:
            self._reject(line, "email", f"the same email (any case) as line {first_line}")
            return None
        if student.student_number is not None:
            first_line = self._line_by_student_number.setdefault(student.student_number, line)
            if first_line != line:
                self._reject(line, "student_number", f"the same student number as line {first_line}")
                return None
        return student

    def _reject(self, line: int, field_name: str, reason: str) -> None:
        self.rejections.append(Rejection(line, field_name, reason))

    @contextmanager
    def _readable(self) -> Iterator[None]:
        """A file that is not UTF-8 or not CSV is refused as a whole, naming where it broke."""
        try:
            yield
        except UnicodeDecodeError:
            raise ImportRefused(f"after line {self._records.line_num}: the file is not UTF-8 text") from None
        except csv.Error as error:
            raise ImportRefused(f"line {self._records.line_num}: not valid CSV ({error})") from None


class _Lines:
    """A csv.writer's file that hands each row back: writerow returns what `write` returns."""

    def write(self, row: str) -> str:
        return row


def _sorted_batch(staged: list[tuple[str, int, str | None, str]]) -> StagedBatch:
    staged.sort()  # by email key, unique within the file
    return StagedBatch(*map(list, zip(*staged, strict=False))) if staged else StagedBatch([], [], [], [])


_Item = TypeVar("_Item")
_END = object()
_SWITCH_INTERVAL_S = 0.0005


@contextmanager
def _read_ahead(items: Iterator[_Item]) -> Iterator[Iterator[_Item]]:
    """`items`, produced by a thread of their own one item ahead of the consumer: the next batch is read and
    validated while the database loads this one (the driver waits for the server without holding the GIL).
    An exception of the producer is raised in the consumer; leaving the block stops the producer."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def hand_over(item: object) -> None:
        while not stopped.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for item in items:
                hand_over(item)
                if stopped.is_set():
                    return
        except BaseException as error:  # noqa: BLE001 - any: the consumer raises it, and the transaction rolls back
            hand_over(error)
            return
        hand_over(_END)

    def consume() -> Iterator[_Item]:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item

    producer = threading.Thread(target=produce, name="import-reader", daemon=True)
    # The producer runs Python without pause; each time the driver returns from the server, the consumer waits
    # for the GIL for up to the switch interval, and the server with it: at the default 5 ms, about a fifth of
    # the server's time. Process-wide, hence restored on the way out.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(_SWITCH_INTERVAL_S)
    producer.start()
    try:
        yield consume()
    finally:
        sys.setswitchinterval(switch_interval)
        stopped.set()
        producer.join()
