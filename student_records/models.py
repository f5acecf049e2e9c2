"""Data contracts of the domain, split by direction: what clients send, and what they get back."""

import re
import time
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from .model_base import Model

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
GENERATED_STUDENT_NUMBER_PATTERN = r"^S[0-9]{8}$"


class StudentStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    GRADUATED = "graduated"
    WITHDRAWN = "withdrawn"


def _not_reserved(student_number: str) -> str:
    if re.match(GENERATED_STUDENT_NUMBER_PATTERN, student_number):
        raise ValueError("numbers of the form S######## are reserved for generated student numbers")
    return student_number


def _written_as_iso_date(value: object) -> object:
    # pydantic also reads a number of seconds written as text as a date ("0" is 1970-01-01, "86400" the next
    # day): in JSON and CSV, only YYYY-MM-DD names a date. Text is parsed here (or refused); a value that is not
    # text goes on to pydantic's own checks (strict: it refuses numbers). fromisoformat also reads YYYYMMDD and
    # week dates (YYYY-Www-D), and no other digits than ASCII: only ten characters with hyphens after the year
    # and the month reach it (a regex costs twice as much, on every date of a bulk import).
    if not isinstance(value, str):
        return value
    if len(value) == 10 and value[4] == value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a calendar date written YYYY-MM-DD")


# On every date a client sends, after its other constraints (which then stay in the JSON schema as they were).
WRITTEN_AS_ISO_DATE = BeforeValidator(_written_as_iso_date)
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class _Today:
    """date.today(), read again at most once a second: at 0.4 µs it was a third of the cost of checking a birth
    date, and an import checks a million. Just after midnight, for under a second, today's date is refused."""

    def __init__(self) -> None:
        self._date, self._until = date.today(), time.monotonic() + 1.0

    def __call__(self) -> date:
        if time.monotonic() >= self._until:
            self._date, self._until = date.today(), time.monotonic() + 1.0
        return self._date


_today = _Today()


def _plausible_birth_date(value: date) -> date:
    if not EARLIEST_BIRTH_DATE <= value <= _today():
        raise ValueError("date_of_birth must be between 1900-01-01 and today")
    return value


# Control characters (NUL above all, which PostgreSQL text cannot hold) have no place in a name or a search.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=254, pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$"
    ),
]
ChosenStudentNumber = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$"),
    AfterValidator(_not_reserved),
]
BirthDate = Annotated[date, AfterValidator(_plausible_birth_date), WRITTEN_AS_ISO_DATE]
EnrollmentDate = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2100, 1, 1)), WRITTEN_AS_ISO_DATE]

# Strict: JSON gives no reason to turn 42 into "42" or a number of seconds into a date.
_INPUT = ConfigDict(extra="forbid", strict=True, frozen=True)


class StudentCreate(Model):
    model_config = _INPUT

    first_name: PersonName
    last_name: PersonName
    email: Email
    student_number: ChosenStudentNumber | None = Field(
        default=None, description="Generated (S + 8 digits) when not given."
    )
    date_of_birth: BirthDate | None = None
    status: StudentStatus = StudentStatus.ACTIVE
    enrolled_on: EnrollmentDate | None = Field(default=None, description="Today when not given.")


def patch_schema(schema: dict) -> None:
    """A patch names at least one field; a field that cannot be null documents no null default."""
    schema["minProperties"] = 1
    for field in schema["properties"].values():
        if "default" in field and field["default"] is None and "anyOf" not in field:
            del field["default"]


class StudentPatch(Model):
    """A partial update: only the fields present are changed; date_of_birth may be set to null."""

    model_config = ConfigDict(**_INPUT, json_schema_extra=lambda schema: patch_schema(schema))

    # Left out means "leave as is" (hence the None defaults); only date_of_birth may be set to null.
    first_name: PersonName = None  # type: ignore[assignment]
    last_name: PersonName = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[assignment]
    date_of_birth: BirthDate | None = None
    status: StudentStatus = None  # type: ignore[assignment]
    enrolled_on: EnrollmentDate = None  # type: ignore[assignment]
    version: int = Field(default=None, ge=1, description="The version the change is based on.")  # type: ignore[assignment]

    @field_validator("first_name", "last_name", "email", "status", "enrolled_on", "version", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Absent means "leave as is"; an explicit null would erase a required field.
        if value is None:
            raise ValueError("may be left out, but not set to null")
        return value

    def changes(self) -> dict[str, object]:
        """The fields the client set, version aside."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "version"}


class ListStudentsQuery(Model):
    # Query strings are text: lax mode turns "50" into 50.
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=200, description="next_cursor of the previous page, as given."
    )
    status: StudentStatus | None = Field(default=None, description="Only students with this status.")
    q: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=PRINTABLE,
        description="Prefix of first name, last name or email.",
    )


class Student(Model):
    model_config = ConfigDict(frozen=True)

    id: int
    student_number: str
    first_name: str
    last_name: str
    email: str
    date_of_birth: date | None
    status: StudentStatus
    enrolled_on: date
    created_at: datetime
    updated_at: datetime
    version: int


class StudentPage(Model):
    items: list[Student]
    next_cursor: str | None


class StudentDirectoryEntry(Model):
    """What teachers see of a student: directory fields only."""

    model_config = ConfigDict(frozen=True)

    id: int
    student_number: str
    first_name: str
    last_name: str
    status: StudentStatus


class StudentDirectoryPage(Model):
    items: list[StudentDirectoryEntry]
    next_cursor: str | None


class AuditAction(StrEnum):
    READ = "read"
    LIST = "list"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    # The academic record (student_records/academics.py)
    ENROLL = "enroll"
    DROP = "drop"
    GRADE = "grade"
    TRANSCRIPT = "transcript"


class AuditEntry(Model):
    model_config = ConfigDict(frozen=True)

    id: int
    occurred_at: datetime
    actor: str
    actor_role: str
    action: AuditAction
    student_id: int
    correlation_id: str


class AuditPage(Model):
    items: list[AuditEntry]
    next_cursor: str | None


class ListAuditQuery(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=200, description="next_cursor of the previous page, as given."
    )


class RecordedOutcome(Model):
    """The answer given to the first request with an Idempotency-Key, kept to answer its replays."""

    request_hash: str
    status: int
    body: str
    location: str | None = None


class StudentCount(Model):
    count: int


class CheckResult(Model):
    status: str
    detail: str | None = None


class Readiness(Model):
    status: str
    checks: dict[str, CheckResult]
    schema_version: str | None
