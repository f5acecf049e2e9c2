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


TAGS = {"students": "Student records: who may read which fields, and who may change them, is by role."}
OPERATIONS = (
    # Literal paths before templated ones: /students/count must not be read as a student id.
    Operation(
        "countStudents",
        "GET",
        "/students/count",
        "Exact number of students, in constant time",
        "Admins, registrars and teachers. Read from a counter kept in the transaction of every insert and"
        " delete, so it is exact and costs the same at any number of students.",
        count_students,
        200,
        (StudentCount,),
        problem_statuses=READ_PROBLEMS,
    ),
    STUDENTS.list(
        "listStudents",
        "A page of students, by id, optionally filtered (teachers get directory fields only)",
        "Admins, registrars and teachers (directory fields only). Keyset pages ordered by id: pass"
        " `next_cursor` back unchanged, with the same `status` and `q`, for the next page; a cursor this API"
        " did not sign, or signed for other filters, is a 400 `invalid-cursor`. `q` matches a prefix of the"
        " first name, last name or email (teachers: names only), case-insensitively.",
        ListStudentsQuery,
        StudentPage,
        StudentDirectoryPage,
    ),
    Operation(
        "createStudent",
        "POST",
        "/students",
        "Create a student; an Idempotency-Key makes retries safe for 24 hours",
        "Admins and registrars. `student_number` is generated (`S` and 8 digits) when not given, and `email`"
        " is unique whatever its case (409). With an `Idempotency-Key`, a replay within 24 hours gets the first"
        " answer, the same key with another body is a 422, and concurrent requests with one key create one"
        " student. 201 with `Location` and `ETag`.",
        create_student,
        201,
        (Student,),
        body_model=StudentCreate,
        problem_statuses=CREATE_PROBLEMS,
        accepts_idempotency_key=True,
    ),
    STUDENTS.get(
        "getStudent",
        "One student (teachers get directory fields only; students only their own record)",
        "Admins and registrars get the whole record, teachers its directory fields, and a student their own"
        " record only: anyone else's is a 404, so that whether a record exists does not leak. The `ETag` is"
        " the record's version, for `If-Match`. Every read is recorded in the audit trail.",
        Student,
        StudentDirectoryEntry,
    ),
    STUDENTS.update(
        "updateStudent",
        "Change some fields; If-Match (or version) guards against lost updates",
        "Admins and registrars. Only the fields sent change. `If-Match` (or `version` in the body) makes"
        " the change conditional: 412 `precondition-failed`, with `current_version`, when the record has"
        " changed since. 409 when the new email is taken.",
        StudentPatch,
        Student,
    ),
    STUDENTS.delete(
        "deleteStudent",
        "Delete a student",
        "Admins and registrars. 204, or 404 when there is no such student; the student's enrollments go"
        " with the record and give their seats back.",
    ),
)
