"""Use cases of student records. Every use case takes the Caller: the role decides what is allowed, and every
access to a record is audited."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from observability import business

from ..access import Caller, may_see_full_record, require_directory_reader, require_writer, sees_full_records
from ..concurrency import version_checked
from ..data.database import Session
from ..errors import DatabaseUnavailable, DuplicateStudent, IdempotencyKeyReused, StudentNotFound
from ..service import Service
from .models import (
    ListStudentsQuery,
    Student,
    StudentCreate,
    StudentDirectoryEntry,
    StudentDirectoryPage,
    StudentPage,
    StudentPatch,
)
from .repository import IdempotencyStore, RecordedAnswer, StudentRepository


class StudentService(Service):
    def create(self, caller: Caller, data: StudentCreate) -> Student:
        require_writer(caller)
        student = StudentRepository(self._database).insert(caller, data.model_dump(mode="json"))
        business.student_created()
        return student

    @contextmanager
    def create_once(self, caller: Caller, data: StudentCreate, key: str) -> Iterator["IdempotentCreation"]:
        """A create under an Idempotency-Key: the first request's answer is recorded in the same transaction as its
        effect, and is the answer to every replay within 24 hours; concurrent requests create one student.

            with service.create_once(caller, data, key) as creation:
                if creation.answer is None:  # not a replay
                    creation.record(answer_to(creation.create()))
            return creation.answer

        The caller renders the outcome (the student, or the conflict) as the answer to record; after the block,
        `answer` is the one to give: recorded now, or by the first request (a replay, or a concurrent request
        that recorded first)."""
        require_writer(caller)
        request_hash = hashlib.sha256(data.model_dump_json().encode()).hexdigest()
        try:
            with self._database.transaction() as session:
                store = IdempotencyStore(session, caller.subject, key)
                creation = IdempotentCreation(session, store, caller, data, request_hash)
                yield creation
        except _LostRace as lost:
            with self._database.transaction() as session:
                recorded = IdempotencyStore(session, caller.subject, key).recorded()
            if recorded is None:  # the winner's record expired in between: vanishingly rare, ask to retry
                raise DatabaseUnavailable("a concurrent request with this Idempotency-Key did not finish") from None
            lost.creation.answer = _replayed(recorded, request_hash)
            return
        if creation.created:
            business.student_created()

    def get(self, caller: Caller, student_id: int) -> Student | StudentDirectoryEntry:
        full = may_see_full_record(caller, student_id)
        student = StudentRepository(self._database).get(caller, student_id)
        if student is None:
            raise StudentNotFound(student_id)
        return student if full else _directory(student)

    def update(self, caller: Caller, student_id: int, patch: StudentPatch, if_match: int | None = None) -> Student:
        """Applies the fields present in the patch; `if_match` or patch.version guard against lost updates."""
        require_writer(caller)
        changes = patch.model_dump(mode="json", include=set(patch.changes()))
        with version_checked(
            self._database,
            StudentRepository,
            student_id,
            if_match,
            patch.version,
            missing=partial(StudentNotFound, student_id),
        ) as students:
            student = students.update(caller, student_id, changes)
        business.student_updated()
        return student

    def delete(self, caller: Caller, student_id: int) -> None:
        require_writer(caller)
        if not StudentRepository(self._database).delete(caller, student_id):
            raise StudentNotFound(student_id)
        business.student_deleted()

    def list(self, caller: Caller, query: ListStudentsQuery) -> StudentPage | StudentDirectoryPage:
        require_directory_reader(caller)
        full = sees_full_records(caller)
        filters = (query.status.value if query.status else None, query.q)
        students = StudentRepository(self._database)
        page = self._pager.page(
            StudentPage,
            query,
            filters,
            partial(students.page, caller=caller, status=query.status, prefix=query.q, search_emails=full),
        )
        if full:
            return page
        return StudentDirectoryPage(items=[_directory(student) for student in page.items], next_cursor=page.next_cursor)

    def count(self, caller: Caller) -> int:
        require_directory_reader(caller)
        return StudentRepository(self._database).count()


class IdempotentCreation:
    """One create under an Idempotency-Key, inside the transaction that records its answer (see create_once)."""

    def __init__(
        self, session: Session, store: IdempotencyStore, caller: Caller, data: StudentCreate, request_hash: str
    ) -> None:
        self._session = session
        self._store = store
        self._caller = caller
        self._data = data
        self._request_hash = request_hash
        self.created = False
        recorded = store.recorded()
        self.answer: RecordedAnswer | None = None if recorded is None else _replayed(recorded, request_hash)

    def create(self) -> Student | DuplicateStudent:
        """The outcome of the create: the student, or the conflict that refused it (which is recorded too)."""
        try:
            with self._session.savepoint():
                student = StudentRepository(self._session).insert(self._caller, self._data.model_dump(mode="json"))
        except DuplicateStudent as conflict:
            return conflict
        self.created = True
        return student

    def record(self, answer: RecordedAnswer) -> None:
        if not self._store.record(self._request_hash, answer):
            raise _LostRace(self)
        self.answer = answer


class _LostRace(Exception):
    """A concurrent request with the same Idempotency-Key committed first: its answer is this creation's."""

    def __init__(self, creation: IdempotentCreation) -> None:
        super().__init__("a concurrent request with this Idempotency-Key recorded its answer first")
        self.creation = creation


def _directory(student: Student) -> StudentDirectoryEntry:
    return StudentDirectoryEntry.model_validate(student.model_dump(include=set(StudentDirectoryEntry.model_fields)))


def _replayed(recorded: tuple[str, RecordedAnswer], request_hash: str) -> RecordedAnswer:
    recorded_hash, answer = recorded
    if recorded_hash != request_hash:
        raise IdempotencyKeyReused
    return answer
