"""The same request gives the same status, headers that matter and body on both doors."""

import pytest

from tests.conftest import empty_tables
from tests.doors import Call

VOLATILE = {"id", "created_at", "updated_at", "enrolled_on"}


def _stable(value):
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


SCENARIOS = {
    "create": [Call("POST", "/students", json_body={"first_name": "Ada", "last_name": "L", "email": "ada@example.org"})],
    "create invalid": [Call("POST", "/students", json_body={"first_name": 1, "email": "x", "extra": True})],
    "create malformed": [Call("POST", "/students", body=b"{", headers={"Content-Type": "application/json"})],
    "create duplicate": [
        Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "dup@example.org"}),
        Call("POST", "/students", json_body={"first_name": "C", "last_name": "D", "email": "DUP@example.org"}),
    ],
    "get": [Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "g@example.org"}),
            Call("GET", "/students/1")],
    "get missing": [Call("GET", "/students/77")],
    "get malformed id": [Call("GET", "/students/x1")],
    "patch": [Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "p@example.org"}),
              Call("PATCH", "/students/1", json_body={"status": "withdrawn"}, headers={"If-Match": '"1"'})],
    "patch stale": [Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "s@example.org"}),
                    Call("PATCH", "/students/1", json_body={"status": "withdrawn", "version": 9})],
    "delete": [Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "d@example.org"}),
               Call("DELETE", "/students/1")],
    "list": [Call("POST", "/students", json_body={"first_name": "A", "last_name": "B", "email": "l@example.org"}),
             Call("GET", "/students?limit=1&q=a")],
    "list bad limit": [Call("GET", "/students?limit=0")],
    "list forged cursor": [Call("GET", "/students?cursor=Zm9yZ2Vk")],
    "count": [Call("GET", "/students/count")],
    "health": [Call("GET", "/health")],
    "ready": [Call("GET", "/health/ready")],
    "not found": [Call("GET", "/nowhere")],
    "method not allowed": [Call("DELETE", "/students")],
    "too large": [Call("POST", "/students", body=b'{"a":"' + b"x" * 70_000 + b'"}', headers={"Content-Type": "application/json"})],
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
    assert lam.status == fla.status
    assert lam.content_type == fla.content_type
    for header in ("location", "etag", "allow", "retry-after"):
        assert lam.headers.get(header) == fla.headers.get(header), header
    if name == "ready":
        # Latency in the database check differs run to run.
        lam.json["checks"]["database"].pop("detail"), fla.json["checks"]["database"].pop("detail")
        assert lam.json["checks"].keys() == fla.json["checks"].keys()
    else:
        assert _stable(lam.json) == _stable(fla.json)
