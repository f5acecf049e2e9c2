"""The audit trail of a student's record (admins only)."""

from student_records.audit.models import AuditPage
from student_records.models import PageQuery

from ..http import ApiResponse
from ..responses import json_body
from ..routing import LIST_PROBLEMS, Context, Operation

STUDENT_ID = "student_id"


def student_audit(ctx: Context) -> ApiResponse:
    return json_body(200, ctx.services.audit.trail(ctx.caller, ctx.path_id(STUDENT_ID), ctx.query(PageQuery)))


TAGS = {"audit": "The audit trail: every read and change of a student's record, written by the statement that made it."}
OPERATIONS = (
    Operation(
        "getStudentAudit",
        "GET",
        "/students/{student_id}/audit",
        "Who read or changed this student record, oldest first (admins only)",
        "Admins only. One row per read or change of the record: who (subject and role), what, when, and the"
        " request's correlation id; keyset pages, as `GET /students`.",
        student_audit,
        200,
        (AuditPage,),
        query_model=PageQuery,
        problem_statuses=LIST_PROBLEMS,
        tag="audit",
    ),
)
