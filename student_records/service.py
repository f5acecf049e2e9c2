"""Use cases: what the API can do with student records, independent of HTTP and of any framework."""

import time
from functools import cache

from observability import business

from .cursor import decode_cursor, encode_cursor
from .data import health, migrations
from .data.database import Database, get_database
from .data.students import StudentRepository
from .errors import DatabaseUnavailable, StudentNotFound, VersionMismatch
from .models import (
    CheckResult,
    ListStudentsQuery,
    Readiness,
    Student,
    StudentCreate,
    StudentPage,
    StudentPatch,
)


class StudentService:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._students = StudentRepository(database)

    def create(self, data: StudentCreate) -> Student:
        student = self._students.insert(data.model_dump(mode="json"))
        business.student_created()
        return student

    def get(self, student_id: int) -> Student:
        student = self._students.get(student_id)
        if student is None:
            raise StudentNotFound(student_id)
        return student

    def update(self, student_id: int, patch: StudentPatch, if_match: int | None = None) -> Student:
        """Applies the fields present in the patch; `if_match` or patch.version guard against lost updates."""
        with self._students.locked(student_id) as locked:
            current = locked.current_version()
            if current is None:
                raise StudentNotFound(student_id)
            for expected in (if_match, patch.version):
                if expected is not None and expected != current:
                    raise VersionMismatch(expected, current)
            student = locked.update(patch.model_dump(mode="json", include=set(patch.changes())))
        business.student_updated()
        return student

    def delete(self, student_id: int) -> None:
        if not self._students.delete(student_id):
            raise StudentNotFound(student_id)
        business.student_deleted()

    def list(self, query: ListStudentsQuery) -> StudentPage:
        filters = (query.status.value if query.status else None, query.q)
        after_id = decode_cursor(query.cursor, filters) if query.cursor else 0
        # One row more than asked tells whether another page exists without a count.
        rows = self._students.page(after_id=after_id, limit=query.limit + 1, status=query.status, prefix=query.q)
        items = rows[: query.limit]
        next_cursor = encode_cursor(items[-1].id, filters) if len(rows) > query.limit else None
        return StudentPage(items=items, next_cursor=next_cursor)

    def count(self) -> int:
        return self._students.count()

    def readiness(self) -> Readiness:
        checks: dict[str, CheckResult] = {}
        schema_version = None
        started = time.perf_counter()
        try:
            health.ping(self._database)
            checks["database"] = CheckResult(status="ok", detail=f"{(time.perf_counter() - started) * 1000:.1f} ms")
        except DatabaseUnavailable as error:
            checks["database"] = CheckResult(status="failed", detail=str(error))
        if checks["database"].status == "ok":
            schema_version = migrations.current_version(self._database)
            expected = _expected_schema_version()
            if schema_version == expected:
                checks["schema"] = CheckResult(status="ok", detail=f"version {schema_version}")
            else:
                checks["schema"] = CheckResult(
                    status="failed", detail=f"schema at version {schema_version}, code expects {expected}"
                )
        else:
            checks["schema"] = CheckResult(status="failed", detail="not checked: the database is unreachable")
        ready = all(check.status == "ok" for check in checks.values())
        business.readiness_checked(ready, self._students.count() if ready else None)
        return Readiness(status="ok" if ready else "unavailable", checks=checks, schema_version=schema_version)


@cache
def _expected_schema_version() -> str | None:
    return migrations.latest_version()


@cache
def get_student_service() -> StudentService:
    """The process-wide service over the process-wide database."""
    return StudentService(get_database())
