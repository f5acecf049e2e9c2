"""The base of every resource's use cases: the database they run on, and the pager of their lists."""

from typing import TypeVar

from .data.database import Database
from .errors import RecordNotFound
from .paging import Pager

Record = TypeVar("Record")


class Service:
    def __init__(self, database: Database, pager: Pager) -> None:
        self._database = database
        self._pager = pager


def found(record: Record | None, kind: str, record_id: int) -> Record:
    """The record read, or RecordNotFound naming its kind."""
    if record is None:
        raise RecordNotFound(kind, record_id)
    return record
