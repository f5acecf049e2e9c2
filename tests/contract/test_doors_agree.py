"""The same request gives the same status, headers that matter and body on both doors."""

import pytest

from tests.conftest import empty_tables
from tests.doors import Call

VOLATILE = {"id", "created_at", "updated_at", "enrolled_on", "enrolled_at"}


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


COURSE = {"code": "CS-101", "title": "Algorithms", "credits": 4, "department": "Computer Science"}
OFFERING = {"course_id": 1, "term_id": 1, "teacher_sub": "teacher-grace", "capacity": 1}
ACADEMIC_SETUP = [
    Call("POST", "/courses", json_body=COURSE),
    Call("POST", "/terms", json_body={"code": "2026-FALL", "starts_on": "2026-09-01", "ends_on": "2026-12-18"}),
    Call("POST", "/offerings", json_body=OFFERING),
    Call("POST", "/students", json_body={"first_name": "Ada", "last_name": "L", "email": "ada@example.org"}),
    Call("POST", "/offerings/1/enrollments", json_body={"student_id": 1}),
    Call("PUT", "/enrollments/1/grade", json_body={"grade": "A"}),
]

# (name, the status both doors must give, how many setup calls first, the calls after them)
ACADEMIC_SCENARIOS = (
    ("course", 201, 1, []),
    ("course duplicate", 409, 1, [Call("POST", "/courses", json_body=COURSE | {"code": "cs-101"})]),
    ("course invalid", 422, 0, [Call("POST", "/courses", json_body=COURSE | {"credits": -1, "x": 1})]),
    ("courses searched", 200, 1, [Call("GET", "/courses?q=cs&limit=5")]),
    ("term", 200, 2, [Call("GET", "/terms/1")]),
    ("offering", 200, 3, [Call("GET", "/offerings/1")]),
    ("offering of a missing course", 422, 2, [Call("POST", "/offerings", json_body=OFFERING | {"course_id": 9})]),
    ("enrollment", 200, 5, [Call("GET", "/enrollments/1")]),
    ("enrollment twice", 409, 5, [ACADEMIC_SETUP[4]]),
    ("roster", 200, 5, [Call("GET", "/offerings/1/enrollments?limit=10")]),
    ("grade", 200, 6, []),
    ("grade off the scale", 422, 5, [Call("PUT", "/enrollments/1/grade", json_body={"grade": "Z"})]),
    ("transcript", 200, 6, [Call("GET", "/students/1/transcript")]),
    ("grade scale", 200, 0, [Call("GET", "/grade-scale")]),
)
ACADEMIC_STATUS = {name: status for name, status, _, _ in ACADEMIC_SCENARIOS}
# The status both doors must give where the rule decides it (the other scenarios only have to agree)
EXPECTED_STATUS = {
    **ACADEMIC_STATUS,
    "create without content type": 415,
    "create repeating a key": 400,
    "get encoded id": 200,
    "get encoded traversal": 404,
    "get double-encoded id": 422,
    "get empty segment": 404,
}

SCENARIOS = {
    "create": [
        Call("POST", "/students", json_body={"first_name": "Ada", "last_name": "L", "email": "ada@example.org"})
    ],
    "create invalid": [Call("POST", "/students", json_body={"first_name": 1, "email": "x", "extra": True})],
    "create malformed": [Call("POST", "/students", body=b"{", headers={"Content-Type": "application/json"})],
    "create duplicate": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "dup@example.org"}),
        Call("POST", "/students", json_body={"first_name": "C", "last_name": "D", "email": "DUP@example.org"}),
    ],
    "get": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "g@example.org"}),
        Call("GET", "/students/1"),
    ],
    "get missing": [Call("GET", "/students/77")],
    "get malformed id": [Call("GET", "/students/x1")],
    "patch": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "p@example.org"}),
        Call("PATCH", "/students/1", json_body={"status": "withdrawn"}, headers={"If-Match": '"1"'}),
    ],
    "patch stale": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "s@example.org"}),
        Call("PATCH", "/students/1", json_body={"status": "withdrawn", "version": 9}),
    ],
    "delete": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "d@example.org"}),
        Call("DELETE", "/students/1"),
    ],
    "list": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "l@example.org"}),
        Call("GET", "/students?limit=1&q=a"),
    ],
    "list bad limit": [Call("GET", "/students?limit=0")],
    "list forged cursor": [Call("GET", "/students?cursor=Zm9yZ2Vk")],
    "count": [Call("GET", "/students/count")],
    "health": [Call("GET", "/health")],
    "ready": [Call("GET", "/health/ready")],
    "not found": [Call("GET", "/nowhere")],
    "method not allowed": [Call("DELETE", "/students")],
    **{  # academic records: each scenario builds on the one before it (tables are emptied between doors)
        name: ACADEMIC_SETUP[:steps] + extra for name, _, steps, extra in ACADEMIC_SCENARIOS
    },
    # One rule for both doors: a body must be declared JSON, name each key once, and decode; a path is decoded once.
    "create without content type": [
        Call("POST", "/students", body=b'{"first_name": "A", "last_name": "B", "email": "n@example.org"}')
    ],
    "create repeating a key": [
        Call(
            "POST",
            "/students",
            body=b'{"first_name": "A", "last_name": "B", "first_name": 1, "email": "k@example.org"}',
            headers={"Content-Type": "application/json"},
        )
    ],
    "get encoded id": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "e@example.org"}),
        Call("GET", "/students/%31"),
    ],
    "get encoded traversal": [Call("GET", "/students/..%2F..%2Fetc%2Fpasswd")],
    "get double-encoded id": [Call("GET", "/students/%2531")],
    "get empty segment": [Call("GET", "/students//1")],
    "too large": [
        Call("POST", "/students", body=b'{"a":"' + b"x" * 70_000 + b'"}', headers={"Content-Type": "application/json"})
    ],
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_request_same_reply(name, db, both):
    replies = {}
    for door in both:
        empty_tables(db)
        for call in SCENARIOS[name]:
            reply = door.send(call)
        replies[door.name] = reply
    lam, fla = replies["lambda"], replies["flask"]
    assert lam.status == fla.status == EXPECTED_STATUS.get(name, lam.status), lam.body
    assert lam.content_type == fla.content_type
    for header in ("location", "etag", "allow", "retry-after"):
        assert lam.headers.get(header) == fla.headers.get(header), header
    if name == "ready":
        # Latency in the database check differs run to run.
        lam.json["checks"]["database"].pop("detail"), fla.json["checks"]["database"].pop("detail")
        assert lam.json["checks"].keys() == fla.json["checks"].keys()
    else:
        assert _stable(lam.json) == _stable(fla.json)
