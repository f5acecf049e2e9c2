"""Optimistic concurrency: every changeable record has a version (its ETag); a change based on a stale version is
refused, and the check holds the record's row lock, so that no other writer can slip in between."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

from .data.database import Database, Session
from .errors import DomainError, VersionMismatch


class Versioned(Protocol):
    def current_version_for_update(self, record_id: int) -> int | None:
        """The record's version, its row locked until the transaction ends; None when there is no such record."""


Repository = TypeVar("Repository", bound=Versioned)


def check_version(current: int, *expected: int | None) -> None:
    """Each expected version given (If-Match, the body's `version`) must be the current one."""
    for version in expected:
        if version is not None and version != current:
            raise VersionMismatch(version, current)


@contextmanager
def version_checked(
    database: Database,
    repository: Callable[[Session], Repository],
    record_id: int,
    *expected: int | None,
    missing: Callable[[], DomainError],
) -> Iterator[Repository]:
    """A transaction in which the record is locked at the expected version: the change made in the block commits
    with the check. `missing()` is raised when there is no such record."""
    with database.transaction() as session:
        records = repository(session)
        current = records.current_version_for_update(record_id)
        if current is None:
            raise missing()
        check_version(current, *expected)
        yield records
