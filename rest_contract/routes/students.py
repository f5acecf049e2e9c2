"""Student records: count, list, create (idempotently with an Idempotency-Key), read, change and delete."""

from student_records.errors import DuplicateStudent
from student_records.students.models import (
    ListStudentsQuery,
    Student,
    StudentCount,
    StudentCreate,
    StudentDirectoryEntry,
    StudentDirectoryPage,
    StudentPage,
    StudentPatch,
)
from student_records.students.repository import RecordedAnswer

from ..http import ApiResponse, json_response
from ..parsing import parse_idempotency_key
from ..problems import PROBLEM_JSON, problem_for_exception
from ..responses import json_body
from ..routing import CREATE_PROBLEMS, READ_PROBLEMS, Context, Operation, Resource

STUDENTS = Resource("students", "/students", "student_id", lambda services: services.students)


def count_students(ctx: Context) -> ApiResponse:
    return json_response(200, {"count": ctx.services.students.count(ctx.caller)})


def create_student(ctx: Context) -> ApiResponse:
    data = ctx.body(StudentCreate)
    key = parse_idempotency_key(ctx.request)
    if key is None:
        student = ctx.services.students.create(ctx.caller, data)
        return json_body(201, student, f"/students/{student.id}")
    with ctx.services.students.create_once(ctx.caller, data, key) as creation:
        if creation.answer is None:
            creation.record(_answer(creation.create()))
    return _replayed(creation.answer)


def _answer(outcome: Student | DuplicateStudent) -> RecordedAnswer:
    """The answer to record for replays of an idempotent create: the student created, or the conflict."""
    if isinstance(outcome, Student):
        return RecordedAnswer(status=201, body=outcome.model_dump_json(), location=f"/students/{outcome.id}")
    conflict = problem_for_exception(outcome)
    return RecordedAnswer(status=conflict.status, body=conflict.body.decode())


def _replayed(answer: RecordedAnswer | None) -> ApiResponse:
    if answer is None:
        raise RuntimeError("an idempotent create ended with no answer recorded")
    if answer.status != 201:
        return ApiResponse(answer.status, answer.body.encode(), PROBLEM_JSON)
    return json_body(201, Student.model_validate_json(answer.body), answer.location)


OPERATIONS = (
    # Literal paths before templated ones: /students/count must not be read as a student id.
    Operation("countStudents", "GET", "/students/count", "Exact number of students, in constant time",
              count_students, 200, (StudentCount,), problem_statuses=READ_PROBLEMS),
    STUDENTS.list("listStudents", "A page of students, by id, optionally filtered (teachers get directory fields only)",
                  ListStudentsQuery, StudentPage, StudentDirectoryPage),
    Operation("createStudent", "POST", "/students",
              "Create a student; an Idempotency-Key makes retries safe for 24 hours",
              create_student, 201, (Student,), body_model=StudentCreate, problem_statuses=CREATE_PROBLEMS,
              accepts_idempotency_key=True),
    STUDENTS.get("getStudent", "One student (teachers get directory fields only; students only their own record)",
                 Student, StudentDirectoryEntry),
    STUDENTS.update("updateStudent", "Change some fields; If-Match (or version) guards against lost updates",
                    StudentPatch, Student),
    STUDENTS.delete("deleteStudent", "Delete a student"),
)
