"""Statements assembled from parts, with psycopg.sql: names as Identifier (from allow-lists in the code), values as
placeholders bound at execution, fragments as SQL. No statement is built by formatting text."""

from collections.abc import Sequence
from functools import cache

from psycopg import sql

from .auditing import audited
from .database import Query


def column_list(columns: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(map(sql.Identifier, columns))


@cache  # one statement per set of fields a PATCH changes: a handful per resource
def update_query(
    name: str, table: str, columns: tuple[str, ...], fields: tuple[str, ...], audit_action: str | None = None
) -> Query:
    """Sets `fields` of the record `%(id)s` to the parameters of the same names, counts a version and returns the
    record's `columns`; with `audit_action`, writes its audit row in the same statement (auditing.audited)."""
    update = sql.SQL(
        "UPDATE {table} SET {assignments}, version = version + 1, updated_at = now() WHERE id = %(id)s"
        " RETURNING {columns}"
    ).format(
        table=sql.Identifier(table),
        assignments=sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(field), sql.Placeholder(field)) for field in fields
        ),
        columns=column_list(columns),
    )
    if audit_action is None:
        return Query(name, update)
    return Query(
        name,
        sql.SQL("WITH updated AS ({update}), {audit} SELECT * FROM updated").format(
            update=update, audit=audited(audit_action, "updated")
        ),
    )
