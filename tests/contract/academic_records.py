"""Academic records made through the door under test (as an admin unless told), for the contract suite."""

import itertools
from functools import cache

from tests.doors import Call, Reply, token_for

_serial = itertools.count(1)


def as_role(role: str, *, subject: str | None = None, student_id: int | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {_token(role, subject, student_id)}"}


@cache  # signing costs tens of milliseconds (the key is read and checked each time), and tokens last an hour
def _token(role: str, subject: str | None, student_id: int | None) -> str:
    return token_for(role, student_id=student_id, subject=subject)


def _created(reply: Reply) -> dict:
    assert reply.status == 201, reply.body
    return reply.json


def new_student(api, **overrides) -> dict:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"student{next(_serial)}@example.org"} | overrides
    return _created(api.send(Call("POST", "/students", json_body=body)))


def new_course(api, **overrides) -> dict:
    body = {"code": f"CS-{next(_serial)}", "title": "Algorithms", "credits": 3, "department": "Computer Science"}
    return _created(api.send(Call("POST", "/courses", json_body=body | overrides)))


def new_term(api, **overrides) -> dict:
    body = {"code": f"2026-FALL-{next(_serial)}", "starts_on": "2026-09-01", "ends_on": "2026-12-18"}
    return _created(api.send(Call("POST", "/terms", json_body=body | overrides)))


def new_offering(api, *, course_id: int | None = None, term_id: int | None = None, **overrides) -> dict:
    """An offering of the course in the term, both made when not given."""
    body = {
        "course_id": course_id or new_course(api)["id"],
        "term_id": term_id or new_term(api)["id"],
        "teacher_sub": "teacher-grace",
        "capacity": 30,
    }
    return _created(api.send(Call("POST", "/offerings", json_body=body | overrides)))


def enroll(api, offering_id: int, student_id: int, headers: dict[str, str] | None = None) -> Reply:
    return api.send(
        Call(
            "POST", f"/offerings/{offering_id}/enrollments", json_body={"student_id": student_id}, headers=headers or {}
        )
    )


def new_enrollment(api, offering_id: int, student_id: int) -> dict:
    return _created(enroll(api, offering_id, student_id))


def record_grade(api, enrollment_id: int, grade: str, headers: dict[str, str] | None = None) -> Reply:
    return api.send(
        Call("PUT", f"/enrollments/{enrollment_id}/grade", json_body={"grade": grade}, headers=headers or {})
    )


def drop(api, enrollment_id: int, headers: dict[str, str] | None = None) -> Reply:
    return api.send(
        Call("PATCH", f"/enrollments/{enrollment_id}", json_body={"status": "dropped"}, headers=headers or {})
    )
