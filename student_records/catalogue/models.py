"""The course catalogue (courses, terms, and offerings of a course in a term): what clients send and what they get
back."""

from datetime import date, datetime
from typing import Annotated

from pydantic import Field, StringConstraints, ValidationInfo, field_validator

from ..models import (
    MAX_RECORD_ID,
    PRINTABLE,
    WRITTEN_AS_ISO_DATE,
    Input,
    Output,
    Page,
    PageQuery,
    Patch,
    RecordId,
    Version,
)

# Courses

CourseCode = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{1,31}$")]
CourseTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=PRINTABLE)]
Department = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=PRINTABLE)]
# Halves are exact in binary floating point, so multiple_of=0.5 never misjudges a value.
Credits = Annotated[float, Field(ge=0, le=30, multiple_of=0.5, description="Whole or half credits, 0 to 30.")]


class CourseCreate(Input):
    code: CourseCode = Field(description="Unique whatever its case, e.g. CS-101.")
    title: CourseTitle
    credits: Credits
    department: Department


class CoursePatch(Patch):
    """A partial update: only the fields present are changed."""

    code: CourseCode = None  # type: ignore[assignment]  # absent, never null (Patch)
    title: CourseTitle = None  # type: ignore[assignment]  # absent, never null (Patch)
    credits: Credits = None  # type: ignore[assignment]  # absent, never null (Patch)
    department: Department = None  # type: ignore[assignment]  # absent, never null (Patch)
    version: Version = None  # type: ignore[assignment]  # absent, never null (Patch)


class ListCoursesQuery(PageQuery):
    q: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=PRINTABLE, description="Prefix of code or title."
    )


class Course(Output):
    id: int
    code: str
    title: str
    credits: float
    department: str
    created_at: datetime
    updated_at: datetime
    version: int


class CoursePage(Page[Course]):
    pass


# Terms

TermCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,31}$")]
TermDate = Annotated[date, Field(ge=date(1900, 1, 1), le=date(2100, 12, 31)), WRITTEN_AS_ISO_DATE]


class TermCreate(Input):
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


class Term(Output):
    id: int
    code: str
    starts_on: date
    ends_on: date
    created_at: datetime


class TermPage(Page[Term]):
    pass


# Offerings

# Compared with the `sub` of tokens as is: never stripped or case-folded.
TeacherSub = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256, pattern=PRINTABLE),
    Field(description="The identity provider's subject (`sub`) of the teacher who teaches the offering."),
]
Capacity = Annotated[int, Field(ge=1, le=10_000)]


class OfferingCreate(Input):
    course_id: RecordId
    term_id: RecordId
    teacher_sub: TeacherSub
    capacity: Capacity


class OfferingPatch(Patch):
    """A new teacher or capacity; a capacity below the seats already taken is a 409."""

    teacher_sub: TeacherSub = None  # type: ignore[assignment]  # absent, never null (Patch)
    capacity: Capacity = None  # type: ignore[assignment]  # absent, never null (Patch)
    version: Version = None  # type: ignore[assignment]  # absent, never null (Patch)


class ListOfferingsQuery(PageQuery):
    term_id: int | None = Field(default=None, ge=1, le=MAX_RECORD_ID, description="Only the offerings of this term.")


class Offering(Output):
    id: int
    course_id: int
    term_id: int
    teacher_sub: str
    capacity: int
    enrolled_count: int = Field(description="Seats taken: enrolled and completed enrollments.")
    created_at: datetime
    updated_at: datetime
    version: int = Field(description="Counts changes of teacher or capacity; seats taken change without it.")


class OfferingPage(Page[Offering]):
    pass
