"""Transcripts and the grade scale."""

from student_records.transcripts.models import GradeScale, Transcript

from ..http import ApiResponse
from ..responses import json_body
from ..routing import ONE_PROBLEMS, READ_PROBLEMS, Context, Operation

STUDENT_ID = "student_id"


def grade_scale(ctx: Context) -> ApiResponse:
    return json_body(200, ctx.services.transcripts.grade_scale(ctx.caller))


def transcript(ctx: Context) -> ApiResponse:
    return json_body(200, ctx.services.transcripts.transcript(ctx.caller, ctx.path_id(STUDENT_ID)))


TAGS = {"transcripts": "Transcripts with a credit-weighted GPA, and the grade scale they are computed with."}
OPERATIONS = (
    Operation(
        "getGradeScale",
        "GET",
        "/grade-scale",
        "The grades that may be recorded, and their points",
        "Every role. The grades best first, with the points each counts for in a GPA.",
        grade_scale,
        200,
        (GradeScale,),
        problem_statuses=READ_PROBLEMS,
        tag="transcripts",
    ),
    Operation(
        "getTranscript",
        "GET",
        "/students/{student_id}/transcript",
        "Terms with courses, credits and grades, and the credit-weighted GPA (students: their own)",
        "Admins, registrars, and the student whose transcript it is (404 for anyone else's; 403 for teachers)."
        " Terms by start date, their courses by code; the GPA per term and overall counts graded enrollments"
        " (F included) and no dropped or ongoing one. Every read gets an audit row.",
        transcript,
        200,
        (Transcript,),
        problem_statuses=ONE_PROBLEMS,
        tag="transcripts",
    ),
)
