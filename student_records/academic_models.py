"""Data contracts of academic records (courses, terms, offerings, enrollments, grades, transcripts), split
by direction as in models.py: what clients send, and what they get back."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from .model_base import Model
from .models import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PRINTABLE, WRITTEN_AS_ISO_DATE, patch_schema


class EnrollmentStatus(StrEnum):
    ENROLLED = "enrolled"
    DROPPED = "dropped"
    COMPLETED = "completed"  # graded


CourseCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$")]
TermCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
CourseTitle = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)
]
Department = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE)
]
# Halves are exact in binary floating point, so multiple_of=0.5 never misjudges a value.
Credits = Annotated[float, Field(ge=0, le=30, multiple_of=0.5, description="Whole or half credits, 0 to 30.")]
# Compared with the `sub` of tokens as is: never stripped or case-folded.
TeacherSub = Annotated[
    str, StringConstraints(min_length=1, max_length=256, pattern=PRINTABLE),
    Field(description="The identity provider's subject (`sub`) of the teacher who teaches the offering."),
]
Capacity = Annotated[int, Field(ge=1, le=10_000)]
RecordId = Annotated[int, Field(ge=1, le=2**63 - 1)]
TermDate = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2100, 12, 31)), WRITTEN_AS_ISO_DATE]
GradeLetter = Annotated[
    str, StringConstraints(pattern=r"^[A-Z][A-Z0-9+-]{0,3}$"), Field(description="A grade of the grade scale.")
]
Version = Annotated[int, Field(ge=1, description="The version the change is based on.")]

_INPUT = ConfigDict(extra="forbid", strict=True, frozen=True)
# As StudentPatch: fields left out are left as they are (hence the None defaults), and none may be set to null.
_PATCH = ConfigDict(**_INPUT, json_schema_extra=patch_schema)
_QUERY = ConfigDict(extra="forbid", frozen=True)  # query strings are text: lax mode turns "50" into 50
_OUTPUT = ConfigDict(frozen=True)

_Limit = Annotated[int, Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size.")]
_Cursor = Annotated[
    str | None,
    Field(default=None, min_length=1, max_length=200, description="next_cursor of the previous page, as given."),
]


def _present(value: object) -> object:
    # Absent means "leave as is"; an explicit null would erase a required field.
    if value is None:
        raise ValueError("may be left out, but not set to null")
    return value


class PageQuery(Model):
    model_config = _QUERY

    limit: _Limit
    cursor: _Cursor


class CourseCreate(Model):
    model_config = _INPUT

    code: CourseCode = Field(description="Unique whatever its case, e.g. CS-101.")
    title: CourseTitle
    credits: Credits
    department: Department


class CoursePatch(Model):
    """A partial update: only the fields present are changed."""

    model_config = _PATCH

    code: CourseCode = None  # type: ignore[assignment]
    title: CourseTitle = None  # type: ignore[assignment]
    credits: Credits = None  # type: ignore[assignment]
    department: Department = None  # type: ignore[assignment]
    version: Version = None  # type: ignore[assignment]

    _not_null = field_validator("code", "title", "credits", "department", "version", mode="before")(_present)

    def changes(self) -> dict[str, object]:
        """The fields the client set, version aside."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "version"}


class ListCoursesQuery(PageQuery):
    q: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=PRINTABLE, description="Prefix of code or title."
    )


class Course(Model):
    model_config = _OUTPUT

    id: int
    code: str
    title: str
    credits: float
    department: str
    created_at: datetime
    updated_at: datetime
    version: int


class CoursePage(Model):
    items: list[Course]
    next_cursor: str | None


class TermCreate(Model):
    model_config = _INPUT

    code: TermCode = Field(description="Upper case, e.g. 2026-FALL.")
    starts_on: TermDate
    ends_on: TermDate

    @field_validator("ends_on")
    @classmethod
    def _after_start(cls, ends_on: date, info: ValidationInfo) -> date:
        starts_on = info.data.get("starts_on")
        if starts_on is not None and ends_on <= starts_on:
            raise ValueError("must be after starts_on")
        return ends_on


class Term(Model):
    model_config = _OUTPUT

    id: int
    code: str
    starts_on: date
    ends_on: date
    created_at: datetime


class TermPage(Model):
    items: list[Term]
    next_cursor: str | None


class OfferingCreate(Model):
    model_config = _INPUT

    course_id: RecordId
    term_id: RecordId
    teacher_sub: TeacherSub
    capacity: Capacity


class OfferingPatch(Model):
    """A new teacher or capacity; a capacity below the seats already taken is a 409."""

    model_config = _PATCH

    teacher_sub: TeacherSub = None  # type: ignore[assignment]
    capacity: Capacity = None  # type: ignore[assignment]
    version: Version = None  # type: ignore[assignment]

    _not_null = field_validator("teacher_sub", "capacity", "version", mode="before")(_present)

    def changes(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.model_fields_set if name != "version"}


class ListOfferingsQuery(PageQuery):
    term_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="Only the offerings of this term.")


class Offering(Model):
    model_config = _OUTPUT

    id: int
    course_id: int
    term_id: int
    teacher_sub: str
    capacity: int
    enrolled_count: int = Field(description="Seats taken: enrolled and completed enrollments.")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Counts changes of teacher or capacity; seats taken change without it.")


class OfferingPage(Model):
    items: list[Offering]
    next_cursor: str | None


class EnrollmentCreate(Model):
    """Enrolls a student; one who dropped this offering before is enrolled again."""

    model_config = _INPUT

    student_id: RecordId


class EnrollmentPatch(Model):
    """Dropping is the only change of status made here: a grade completes an enrollment, and enrolling
    again is a POST to the offering."""

    model_config = _PATCH

    status: Literal["dropped"]
    version: Version = None  # type: ignore[assignment]


class GradeRecord(Model):
    model_config = _INPUT

    grade: GradeLetter


class Enrollment(Model):
    model_config = _OUTPUT

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


class RosterPage(Model):
    items: list[RosterEntry]
    next_cursor: str | None


class GradeScaleEntry(Model):
    model_config = _OUTPUT

    grade: str
    points: float


class GradeScale(Model):
    items: list[GradeScaleEntry]


class TranscriptCourse(Model):
    model_config = _OUTPUT

    enrollment_id: int
    course_id: int
    code: str
    title: str
    credits: float
    status: EnrollmentStatus
    grade: str | None
    points: float | None = Field(description="The grade's points on the grade scale.")


class TranscriptTerm(Model):
    model_config = _OUTPUT

    term_id: int
    code: str
    starts_on: date
    ends_on: date
    courses: list[TranscriptCourse]
    gpa: float | None = Field(description="Credit-weighted over this term's graded courses; null when none.")
    graded_credits: float


class Transcript(Model):
    model_config = _OUTPUT

    student_id: int
    student_number: str
    terms: list[TranscriptTerm] = Field(description="By start date, each with its courses by code.")
    gpa: float | None = Field(
        description="Credit-weighted over every graded course, to two decimals; null when none is graded."
    )
    graded_credits: float
