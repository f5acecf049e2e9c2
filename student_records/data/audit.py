"""The audit trail: the row every access writes (in the statement that makes the access), and its reading.

Changes commit their audit rows with the change, durably. Reads commit theirs as READ_AUDIT_COMMIT says:
`async` (the default) does not wait for the WAL flush — a database crash can lose the last fraction of a
second of read-audit rows (at most 3 × wal_writer_delay, 0.6 s by default), never a change or its audit
row — and halves the cost of every read; `sync` waits, like a change. See docs/security.md.
"""

from ..access import Caller
from ..models import AuditEntry
from .database import Database, Query

AUDIT_PAGE = Query(
    "audit.page",
    """SELECT id, occurred_at, actor, actor_role, action, student_id, correlation_id
       FROM student_audit WHERE student_id = %(student_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s""",
)


def audit_rows(action: str, source: str, student_id_column: str = "id") -> str:
    """A CTE writing one `action` audit row per student in the CTE `source`, for a statement's WITH list."""
    return (
        "audited AS (INSERT INTO student_audit (actor, actor_role, action, student_id, correlation_id)"
        f" SELECT %(actor)s, %(actor_role)s, '{action}', {student_id_column}, %(correlation_id)s FROM {source})"
    )


def read_audit_rows(action: str, source: str, student_id_column: str = "id") -> str:
    """audit_rows for a read: the statement also sets its own transaction's synchronous_commit, in the same
    round trip (set_config is evaluated for each audited row; with no row, nothing is written or flushed).
    Its Query must say `audits_read=True`, so that the Session supplies the setting."""
    return audit_rows(action, source, student_id_column).removesuffix(")") + (
        " WHERE set_config('synchronous_commit',"
        " coalesce(%(read_audit_commit)s, current_setting('synchronous_commit')), true) IS NOT NULL)"
    )


def actor(caller: Caller) -> dict[str, str]:
    """The parameters of audit_rows and read_audit_rows: who acts, and the request they act in."""
    return {"actor": caller.subject, "actor_role": caller.role.value, "correlation_id": caller.correlation_id}


class AuditRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def page(self, student_id: int, *, after_id: int, limit: int) -> list[AuditEntry]:
        rows = self._database.fetch_all(AUDIT_PAGE, {"student_id": student_id, "after": after_id, "limit": limit})
        return [AuditEntry.model_validate(row) for row in rows]
