"""Transcripts (a student's terms, courses, grades and GPA) and the grade scale they are computed with."""

from datetime import date

from pydantic import Field

from ..enrollments.models import EnrollmentStatus
from ..models import Model, Output


class GradeScaleEntry(Output):
    grade: str
    points: float


class GradeScale(Model):
    items: list[GradeScaleEntry]


class TranscriptCourse(Output):
    enrollment_id: int
    course_id: int
    code: str
    title: str
    credits: float
    status: EnrollmentStatus
    grade: str | None
    points: float | None = Field(description="The grade's points on the grade scale.")


class TranscriptTerm(Output):
    term_id: int
    code: str
    starts_on: date
    ends_on: date
    courses: list[TranscriptCourse]
    gpa: float | None = Field(description="Credit-weighted over this term's graded courses; null when none.")
    graded_credits: float


class Transcript(Output):
    student_id: int
    student_number: str
    terms: list[TranscriptTerm] = Field(description="By start date, each with its courses by code.")
    gpa: float | None = Field(
        description="Credit-weighted over every graded course, to two decimals; null when none is graded."
    )
    graded_credits: float
