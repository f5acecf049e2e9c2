"""Use cases: what the API can do with student records, independent of HTTP and of any framework.
Every use case takes the Caller: the role decides what is allowed, and every record access is audited."""

import hashlib
import time
from collections.abc import Callable
from functools import cache

from observability import business

from .access import (
    Caller,
    may_see_full_record,
    require_admin,
    require_directory_reader,
    require_writer,
    sees_full_records,
)
from .cursor import decode_cursor, encode_cursor
from .data import health, migrations
from .data.audit import AuditRepository
from .data.database import Database, get_database
from .data.idempotency import IdempotencyStore
from .data.students import StudentRepository
from .errors import DatabaseUnavailable, DuplicateStudent, IdempotencyKeyReused, StudentNotFound, VersionMismatch
from .models import (
    AuditPage,
    CheckResult,
    ListAuditQuery,
    ListStudentsQuery,
    Readiness,
    RecordedOutcome,
    Student,
    StudentCreate,
    StudentDirectoryEntry,
    StudentDirectoryPage,
    StudentPage,
    StudentPatch,
)

# Renders the outcome of a create (the student, or the conflict) as the answer to record for replays.
OutcomeRenderer = Callable[[Student | DuplicateStudent], tuple[int, str, str | None]]


class _LostRace(Exception):
    """A concurrent request with the same Idempotency-Key committed first."""


class StudentService:
    def __init__(self, database: Database) -> None:
        self._database = database
        self._students = StudentRepository(database)
        self._audit = AuditRepository(database)

    def create(self, caller: Caller, data: StudentCreate) -> Student:
        require_writer(caller)
        student = self._students.insert(caller, data.model_dump(mode="json"))
        business.student_created()
        return student

    def create_once(self, caller: Caller, data: StudentCreate, key: str, render: OutcomeRenderer) -> RecordedOutcome:
        """Create with an Idempotency-Key: the first request's answer, recorded in the same transaction as
        its effect, is the answer to every replay within 24 hours; concurrent requests create one row."""
        require_writer(caller)
        request_hash = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
        try:
            with self._database.transaction() as session:
                store = IdempotencyStore(session, caller.subject, key)
                recorded = store.recorded()
                if recorded is not None:
                    return _replay(recorded, request_hash)
                students = StudentRepository(session)
                try:
                    with session.savepoint():
                        outcome: Student | DuplicateStudent = students.insert(caller, data.model_dump(mode="json"))
                except DuplicateStudent as conflict:
                    outcome = conflict
                status, body, location = render(outcome)
                answer = RecordedOutcome(request_hash=request_hash, status=status, body=body, location=location)
                if not store.record(answer):
                    raise _LostRace()
        except _LostRace:
            with self._database.transaction() as session:
                recorded = IdempotencyStore(session, caller.subject, key).recorded()
            if recorded is None:  # the winner's record expired in between: vanishingly rare, ask to retry
                raise DatabaseUnavailable("a concurrent request with this Idempotency-Key did not finish") from None
            return _replay(recorded, request_hash)
        if isinstance(outcome, Student):
            business.student_created()
        return answer

    def get(self, caller: Caller, student_id: int) -> Student | StudentDirectoryEntry:
        full = may_see_full_record(caller, student_id)
        student = self._students.get(caller, student_id)
        if student is None:
            raise StudentNotFound(student_id)
        return student if full else _directory(student)

    def update(self, caller: Caller, student_id: int, patch: StudentPatch, if_match: int | None = None) -> Student:
        """Applies the fields present in the patch; `if_match` or patch.version guard against lost updates."""
        require_writer(caller)
        with self._database.transaction() as session:
            students = StudentRepository(session)
            current = students.current_version_for_update(student_id)
            if current is None:
                raise StudentNotFound(student_id)
            for expected in (if_match, patch.version):
                if expected is not None and expected != current:
                    raise VersionMismatch(expected, current)
            student = students.update(caller, student_id, patch.model_dump(mode="json", include=set(patch.changes())))
        business.student_updated()
        return student

    def delete(self, caller: Caller, student_id: int) -> None:
        require_writer(caller)
        if not self._students.delete(caller, student_id):
            raise StudentNotFound(student_id)
        business.student_deleted()

    def list(self, caller: Caller, query: ListStudentsQuery) -> StudentPage | StudentDirectoryPage:
        require_directory_reader(caller)
        full = sees_full_records(caller)
        filters = (query.status.value if query.status else None, query.q)
        after_id = decode_cursor(query.cursor, filters) if query.cursor else 0
        # One row more than asked tells whether another page exists without a count.
        rows = self._students.page(
            caller, after_id=after_id, limit=query.limit + 1, status=query.status, prefix=query.q, search_emails=full
        )
        items = rows[: query.limit]
        next_cursor = encode_cursor(items[-1].id, filters) if len(rows) > query.limit else None
        if full:
            return StudentPage(items=items, next_cursor=next_cursor)
        return StudentDirectoryPage(items=[_directory(student) for student in items], next_cursor=next_cursor)

    def count(self, caller: Caller) -> int:
        require_directory_reader(caller)
        return self._students.count()

    def audit_trail(self, caller: Caller, student_id: int, query: ListAuditQuery) -> AuditPage:
        require_admin(caller)
        filters = ("audit", str(student_id))
        after_id = decode_cursor(query.cursor, filters) if query.cursor else 0
        rows = self._audit.page(student_id, after_id=after_id, limit=query.limit + 1)
        items = rows[: query.limit]
        next_cursor = encode_cursor(items[-1].id, filters) if len(rows) > query.limit else None
        return AuditPage(items=items, next_cursor=next_cursor)

    def readiness(self, auth: CheckResult) -> Readiness:
        """`auth`: whether tokens can be verified, checked by the door layer, which holds the signing keys."""
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
        checks["auth"] = auth
        ready = all(check.status == "ok" for check in checks.values())
        business.readiness_checked(ready, self._students.count() if ready else None)
        return Readiness(status="ok" if ready else "unavailable", checks=checks, schema_version=schema_version)


def _directory(student: Student) -> StudentDirectoryEntry:
    return StudentDirectoryEntry.model_validate(student.model_dump(include=set(StudentDirectoryEntry.model_fields)))


def _replay(recorded: RecordedOutcome, request_hash: str) -> RecordedOutcome:
    if recorded.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return recorded


@cache
def _expected_schema_version() -> str | None:
    return migrations.latest_version()


@cache
def get_student_service() -> StudentService:
    """The process-wide service over the process-wide database."""
    return StudentService(get_database())
