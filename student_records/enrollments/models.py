"""Enrollments of students in offerings, and their grades: what clients send and get back."""

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from ..models import Input, Output, Page, Patch, RecordId, Version


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"
    DROPPED = "dropped"
    COMPLETED = "completed"  # graded


GradeLetter = Annotated[
    str, StringConstraints(pattern=r"^[A-Z][A-Z0-9+-]{0,3}$"), Field(description="A grade of the grade scale.")
]


class EnrollmentCreate(Input):
    """Enrolls a student; one who dropped this offering before is enrolled again."""

    student_id: RecordId


class EnrollmentPatch(Patch):
    """Dropping is the only change of status made here: a grade completes an enrollment, and enrolling
    again is a POST to the offering."""

    status: Literal["dropped"]
    version: Version = None  # type: ignore[assignment]  # absent, never null (Patch)


class GradeRecord(Input):
    grade: GradeLetter


class Enrollment(Output):
    id: int
    offering_id: int
    student_id: int
    status: EnrollmentStatus
    grade: str | None = Field(description="The final grade; present exactly when completed.")
    enrolled_at: datetime
    updated_at: datetime
    version: int


class RosterEntry(Enrollment):
    """An enrollment with the student's directory fields, for the offering's roster."""

    student_number: str
    first_name: str
    last_name: str


class RosterPage(Page[RosterEntry]):
    pass
