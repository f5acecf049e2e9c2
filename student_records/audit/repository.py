"""SQL of the audit trail's reading (the rows themselves are written by the statements that access a record:
data/auditing.py)."""

from ..data.database import Query
from ..data.repository import Repository
from .models import AuditEntry

PAGE = Query(
    "audit.page",
    """SELECT id, occurred_at, actor, actor_role, action, student_id, correlation_id
       FROM student_audit WHERE student_id = %(student_id)s AND id > %(after)s ORDER BY id LIMIT %(limit)s""",
)


class AuditRepository(Repository):
    def page(self, after_id: int, limit: int, *, student_id: int) -> list[AuditEntry]:
        return self._all(AuditEntry, PAGE, {"student_id": student_id, "after": after_id, "limit": limit})
