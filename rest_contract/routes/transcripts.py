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


OPERATIONS = (
    Operation("getGradeScale", "GET", "/grade-scale", "The grades that may be recorded, and their points",
              grade_scale, 200, (GradeScale,), problem_statuses=READ_PROBLEMS, tag="transcripts"),
    Operation("getTranscript", "GET", "/students/{student_id}/transcript",
              "Terms with courses, credits and grades, and the credit-weighted GPA (students: their own)",
              transcript, 200, (Transcript,), problem_statuses=ONE_PROBLEMS, tag="transcripts"),
)
