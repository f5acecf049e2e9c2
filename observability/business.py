"""Business events of the domain, as metrics: the domain imports this module from the façade
(`from observability import business`)."""

from .catalog import (
    ENROLLMENTS_CREATED,
    ENROLLMENTS_DROPPED,
    GRADES_RECORDED,
    READINESS_FAILURES,
    STUDENTS_CREATED,
    STUDENTS_DELETED,
    STUDENTS_TOTAL,
    STUDENTS_UPDATED,
)
from .runtime import installed


def student_created(count: int = 1) -> None:
    """One create through the API, or the students a bulk import loaded (counted once its transaction commits)."""
    installed().recorder.put(STUDENTS_CREATED, count)


def student_updated() -> None:
    installed().recorder.put(STUDENTS_UPDATED, 1)


def student_deleted() -> None:
    installed().recorder.put(STUDENTS_DELETED, 1)


def readiness_checked(ready: bool, students_total: int | None) -> None:
    recorder = installed().recorder
    recorder.put(READINESS_FAILURES, 0 if ready else 1)
    if students_total is not None:
        recorder.put(STUDENTS_TOTAL, students_total)


def enrollment_created() -> None:
    installed().recorder.put(ENROLLMENTS_CREATED, 1)


def enrollment_dropped() -> None:
    installed().recorder.put(ENROLLMENTS_DROPPED, 1)


def grade_recorded() -> None:
    installed().recorder.put(GRADES_RECORDED, 1)
