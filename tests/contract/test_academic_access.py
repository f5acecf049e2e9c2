"""Who may do what with academic records: every academic route x every role, on both doors. "teacher" teaches
the offering, "other_teacher" does not; "own" is the enrolled student, "other" another student."""

import pytest

from tests.conftest import empty_tables
from tests.contract.academic_records import as_role
from tests.doors import Call

TEACHER = "teacher-of-the-offering"
ROLES = ["anonymous", "admin", "registrar", "teacher", "other_teacher", "own", "other"]
# Every route answers 401 without a token; per route, what each other role gets:
_MANAGERS_ONLY = {"admin": 200, "registrar": 200, "teacher": 403, "other_teacher": 403, "own": 403, "other": 403}
_MANAGERS_CREATE = {role: 201 if status == 200 else status for role, status in _MANAGERS_ONLY.items()}
_EVERYONE = {"admin": 200, "registrar": 200, "teacher": 200, "other_teacher": 200, "own": 200, "other": 200}

MATRIX = {  # (method, path template, body name) -> status by role
    ("POST", "/courses", "course"): _MANAGERS_CREATE,
    ("GET", "/courses", None): _EVERYONE,
    ("GET", "/courses/{course}", None): _EVERYONE,
    ("PATCH", "/courses/{course}", "course_patch"): _MANAGERS_ONLY,
    ("DELETE", "/courses/{spare_course}", None): {
        role: 204 if status == 200 else status for role, status in _MANAGERS_ONLY.items()
    },
    ("POST", "/terms", "term"): _MANAGERS_CREATE,
    ("GET", "/terms", None): _EVERYONE,
    ("GET", "/terms/{term}", None): _EVERYONE,
    ("POST", "/offerings", "offering"): _MANAGERS_CREATE,
    ("GET", "/offerings", None): _EVERYONE,
    ("GET", "/offerings/{offering}", None): _EVERYONE,
    ("PATCH", "/offerings/{offering}", "offering_patch"): _MANAGERS_ONLY,
    ("POST", "/offerings/{offering}/enrollments", "enrollment"): _MANAGERS_CREATE,
    ("GET", "/offerings/{offering}/enrollments", None): {**_MANAGERS_ONLY, "teacher": 200},
    ("GET", "/enrollments/{enrollment}", None): {**_MANAGERS_ONLY, "teacher": 200, "own": 200, "other": 404},
    ("PATCH", "/enrollments/{enrollment}", "drop"): _MANAGERS_ONLY,
    ("PUT", "/enrollments/{enrollment}/grade", "grade"): {**_MANAGERS_ONLY, "teacher": 200},
    ("GET", "/grade-scale", None): _EVERYONE,
    ("GET", "/students/{student}/transcript", None): {**_MANAGERS_ONLY, "own": 200, "other": 404},
}


def _records(db) -> dict[str, int]:
    """An offering of a course in a term with one enrolled student, and a spare course and student."""
    own, spare = (
        row[0]
        for row in db.execute(
            "INSERT INTO students (first_name, last_name, email)"
            " VALUES ('Own', 'Student', 'own@example.org'), ('Spare', 'Student', 'spare@example.org') RETURNING id"
        )
    )
    course, spare_course = (
        row[0]
        for row in db.execute(
            "INSERT INTO courses (code, title, credits, department)"
            " VALUES ('CS-1', 'Offered', 3, 'CS'), ('CS-2', 'Spare', 3, 'CS') RETURNING id"
        )
    )
    term = db.execute(
        "INSERT INTO terms (code, starts_on, ends_on) VALUES ('2026-FALL', '2026-09-01', '2026-12-18') RETURNING id"
    ).fetchone()[0]
    offering = db.execute(
        "INSERT INTO course_offerings (course_id, term_id, teacher_sub, capacity, enrolled_count)"
        " VALUES (%s, %s, %s, 10, 1) RETURNING id",
        (course, term, TEACHER),
    ).fetchone()[0]
    enrollment = db.execute(
        "INSERT INTO enrollments (offering_id, student_id) VALUES (%s, %s) RETURNING id", (offering, own)
    ).fetchone()[0]
    return {
        "student": own,
        "spare_student": spare,
        "course": course,
        "spare_course": spare_course,
        "term": term,
        "offering": offering,
        "enrollment": enrollment,
    }


def _body(name: str | None, records: dict[str, int]) -> dict | None:
    return {
        "course": {"code": "NEW-1", "title": "New", "credits": 2, "department": "CS"},
        "course_patch": {"title": "Renamed"},
        "term": {"code": "2027-SPRING", "starts_on": "2027-01-11", "ends_on": "2027-05-07"},
        "offering": {
            "course_id": records["spare_course"],
            "term_id": records["term"],
            "teacher_sub": "t",
            "capacity": 5,
        },
        "offering_patch": {"capacity": 20},
        "enrollment": {"student_id": records["spare_student"]},
        "drop": {"status": "dropped"},
        "grade": {"grade": "A"},
        None: None,
    }[name]


def _headers(role: str, own_student: int) -> dict[str, str]:
    match role:
        case "anonymous":
            return {}
        case "teacher":
            return as_role("teacher", subject=TEACHER)
        case "other_teacher":
            return as_role("teacher", subject="another-teacher")
        case "own":
            return as_role("student", student_id=own_student)
        case "other":
            return as_role("student", student_id=own_student + 1000)
    return as_role(role)


@pytest.mark.parametrize("route", list(MATRIX), ids=[f"{method} {path}" for method, path, _ in MATRIX])
def test_role_matrix(api, db, route):
    method, template, body = route
    answers = {}
    # Given an offering with an enrolled student
    records = _records(db)
    for role in ROLES:
        # When the route is called with this role's token
        reply = api.send(
            Call(
                method,
                template.format(**records),
                json_body=_body(body, records),
                headers=_headers(role, records["student"]),
                as_admin=False,
            )
        )
        answers[role] = reply.status
        if reply.status in (401, 403, 404):
            assert reply.content_type == "application/problem+json"
        if method != "GET" and reply.status < 300:  # a change went through: the next role starts afresh
            empty_tables(db)
            records = _records(db)
    # Then each role gets the answer the matrix promises
    assert answers == {"anonymous": 401, **MATRIX[route]}
