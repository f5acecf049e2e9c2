"""The base of every resource's repository: its statements, run by an Executor (a Database, or the Session of a
transaction), their rows read into the resource's models, the database's refusals translated (integrity.py)."""

from typing import Any, TypeVar

from pydantic import BaseModel

from .database import Executor, Query
from .integrity import Refusals, integrity_errors_translated

Record = TypeVar("Record", bound=BaseModel)


class Repository:
    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    def _one(self, record: type[Record], query: Query, params: dict[str, Any] | None = None) -> Record | None:
        row = self._executor.fetch_one(query, params)
        return None if row is None else record.model_validate(row)

    def _all(self, record: type[Record], query: Query, params: dict[str, Any] | None = None) -> list[Record]:
        return [record.model_validate(row) for row in self._executor.fetch_all(query, params)]

    def _inserted(self, record: type[Record], query: Query, values: dict[str, Any], refusals: Refusals) -> Record:
        with integrity_errors_translated(refusals):
            return record.model_validate(self._executor.fetch_one(query, values))

    def _updated(
        self, record: type[Record], query: Query, record_id: int, changes: dict[str, Any], refusals: Refusals
    ) -> Record:
        """`query` (data/sql.update_query) sets the fields of `changes` it names."""
        with integrity_errors_translated(refusals):
            return record.model_validate(self._executor.fetch_one(query, {**changes, "id": record_id}))

    def _version_for_update(self, query: Query, record_id: int) -> int | None:
        """The record's version, its row locked until the transaction ends (concurrency.version_checked)."""
        row = self._executor.fetch_one(query, {"id": record_id})
        return None if row is None else row["version"]
