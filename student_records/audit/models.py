"""The audit trail of a student's record: who read or changed it, when, and in which request."""

from datetime import datetime
from enum import StrEnum

from ..models import Output, Page


class AuditAction(StrEnum):
    READ = "read"
    LIST = "list"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    # The academic record: enrollments, grades and transcripts
    ENROLL = "enroll"
    DROP = "drop"
    GRADE = "grade"
    TRANSCRIPT = "transcript"


class AuditEntry(Output):
    id: int
    occurred_at: datetime
    actor: str
    actor_role: str
    action: AuditAction
    student_id: int
    correlation_id: str


class AuditPage(Page[AuditEntry]):
    pass
