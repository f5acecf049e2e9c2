"""Use cases of the audit trail: admins read who read or changed a student's record."""

from functools import partial

from ..access import Caller, require_admin
from ..models import PageQuery
from ..service import Service
from .models import AuditPage
from .repository import AuditRepository


class AuditService(Service):
    def trail(self, caller: Caller, student_id: int, query: PageQuery) -> AuditPage:
        require_admin(caller)
        trail = partial(AuditRepository(self._database).page, student_id=student_id)
        return self._pager.page(AuditPage, query, ("audit", str(student_id)), trail)
