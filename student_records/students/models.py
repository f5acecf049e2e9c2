"""Students: what clients send (a new student, a patch, a list query) and what they get back (the whole record, or
the directory fields teachers see)."""

import re
import time
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from ..models import PRINTABLE, WRITTEN_AS_ISO_DATE, Input, Model, Output, Page, PageQuery, Patch, Version

GENERATED_STUDENT_NUMBER_PATTERN = r"^S[0-9]{8}$"
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


class StudentStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    GRADUATED = "graduated"
    WITHDRAWN = "withdrawn"


def _not_reserved(student_number: str) -> str:
    if re.match(GENERATED_STUDENT_NUMBER_PATTERN, student_number):
        raise ValueError("numbers of the form S######## are reserved for generated student numbers")
    return student_number


class _Today:
    """date.today(), read again at most once a second: at 0.4 µs it was a third of the cost of checking a birth
    date, and an import checks a million. Just after midnight, for under a second, today's date is refused.
    The server's calendar day (UTC on Lambda and EC2) is the one a birth date is checked against, hence the DTZ011
    suppressions."""

    def __init__(self) -> None:
        self._date, self._until = date.today(), time.monotonic() + 1.0  # noqa: DTZ011 - the server's day

    def __call__(self) -> date:
        if time.monotonic() >= self._until:
            self._date, self._until = date.today(), time.monotonic() + 1.0  # noqa: DTZ011 - the server's day
        return self._date


_today = _Today()


def _plausible_birth_date(value: date) -> date:
    if not EARLIEST_BIRTH_DATE <= value <= _today():
        raise ValueError("date_of_birth must be between 1900-01-01 and today")
    return value


PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$",
    ),
]
ChosenStudentNumber = Annotated[
    str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$"), AfterValidator(_not_reserved)
]
BirthDate = Annotated[date, AfterValidator(_plausible_birth_date), WRITTEN_AS_ISO_DATE]
EnrollmentDate = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2100, 1, 1)), WRITTEN_AS_ISO_DATE]


class StudentCreate(Input):
    first_name: PersonName
    last_name: PersonName
    email: Email
    student_number: ChosenStudentNumber | None = Field(
        default=None, description="Generated (S + 8 digits) when not given."
    )
    date_of_birth: BirthDate | None = None
    status: StudentStatus = StudentStatus.ACTIVE
    enrolled_on: EnrollmentDate | None = Field(default=None, description="Today when not given.")


class StudentPatch(Patch):
    """A partial update: only the fields present are changed; date_of_birth may be set to null."""

    first_name: PersonName = None  # type: ignore[assignment]  # absent, never null (Patch)
    last_name: PersonName = None  # type: ignore[assignment]  # absent, never null (Patch)
    email: Email = None  # type: ignore[assignment]  # absent, never null (Patch)
    date_of_birth: BirthDate | None = None
    status: StudentStatus = None  # type: ignore[assignment]  # absent, never null (Patch)
    enrolled_on: EnrollmentDate = None  # type: ignore[assignment]  # absent, never null (Patch)
    version: Version = None  # type: ignore[assignment]  # absent, never null (Patch)


class ListStudentsQuery(PageQuery):
    status: StudentStatus | None = Field(default=None, description="Only students with this status.")
    q: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        pattern=PRINTABLE,
        description="Prefix of first name, last name or email.",
    )


class _Named(Output):
    """What every view of a student shows first."""

    id: int
    student_number: str
    first_name: str
    last_name: str


class Student(_Named):
    email: str
    date_of_birth: date | None
    status: StudentStatus
    enrolled_on: date
    created_at: datetime
    updated_at: datetime
    version: int


class StudentPage(Page[Student]):
    pass


class StudentDirectoryEntry(_Named):
    """What teachers see of a student: directory fields only."""

    status: StudentStatus


class StudentDirectoryPage(Page[StudentDirectoryEntry]):
    pass


class StudentCount(Model):
    count: int
