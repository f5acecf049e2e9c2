"""SQL for reading the audit trail."""

from ..models import AuditEntry
from .database import Database, Query

AUDIT_PAGE = Query(
    "audit.page",
    """SELECT id, occurred_at, actor, actor_role, action, student_id, correlation_id
       FROM student_audit WHERE student_id = %(student_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s""",
)


class AuditRepository:
    def __init__(self, database: Database) -> None:
        self._database = database

    def page(self, student_id: int, *, after_id: int, limit: int) -> list[AuditEntry]:
        rows = self._database.fetch_all(AUDIT_PAGE, {"student_id": student_id, "after": after_id, "limit": limit})
        return [AuditEntry.model_validate(row) for row in rows]
