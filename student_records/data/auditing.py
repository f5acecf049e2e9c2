"""The audit row every access to a student's record writes, in the statement that makes the access: one round
trip, and the row commits or rolls back with the access.

Changes commit their audit rows with the change, durably. Reads commit theirs as READ_AUDIT_COMMIT says: `async`
(the default) does not wait for the WAL flush — a database crash can lose the last fraction of a second of
read-audit rows (at most 3 × wal_writer_delay, 0.6 s by default), never a change or its audit row — and halves the
cost of every read; `sync` waits, like a change. See docs/security.md.
"""

from psycopg import sql

from ..access import Caller

_INSERT = sql.SQL(
    "audited AS (INSERT INTO student_audit (actor, actor_role, action, student_id, correlation_id)"
    " SELECT %(actor)s, %(actor_role)s, {action}, {student_id}, %(correlation_id)s FROM {source}{condition})"
)
# set_config is evaluated for each audited row, in the statement's own round trip; with no row, nothing is written
# or flushed.
_RELAXED_COMMIT = sql.SQL(
    " WHERE set_config('synchronous_commit', coalesce(%(read_audit_commit)s, current_setting('synchronous_commit')),"
    " true) IS NOT NULL"
)


def audited(action: str, source: str, student_id_column: str = "id") -> sql.Composed:
    """The CTE `audited`, writing one `action` audit row per student in the CTE `source`, for a statement's WITH
    list; its parameters are actor(caller)'s."""
    return _audit(action, source, student_id_column, sql.SQL(""))


def read_audited(action: str, source: str, student_id_column: str = "id") -> sql.Composed:
    """audited for a read: the statement also sets its own transaction's synchronous_commit. Its Query must say
    `audits_read=True`, so that the Session supplies the setting."""
    return _audit(action, source, student_id_column, _RELAXED_COMMIT)


def _audit(action: str, source: str, student_id_column: str, condition: sql.Composable) -> sql.Composed:
    return _INSERT.format(
        action=sql.Literal(action),
        student_id=sql.Identifier(student_id_column),
        source=sql.Identifier(source),
        condition=condition,
    )


def actor(caller: Caller) -> dict[str, str]:
    """The parameters of audited and read_audited: who acts, and the request they act in."""
    return {"actor": caller.subject, "actor_role": caller.role.value, "correlation_id": caller.correlation_id}
