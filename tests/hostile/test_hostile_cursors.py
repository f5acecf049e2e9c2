"""Forged page cursors on both doors: crafted payloads, other versions, other filters' fingerprints and broken
encodings are 400 invalid-cursor, on the student list and on the audit trail alike."""

import base64
import json

import pytest

from tests.doors import Call
from tests.hostile.refusals import assert_refused


def _encoded(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def _decoded(cursor: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _forgeries(genuine: dict, other_filters_fingerprint: str) -> dict[str, str]:
    """Cursors this API never issued, each a variation of a genuine one (`{"v", "after", "f"}`)."""
    with_after = {f"after {label}": _encoded({**genuine, "after": value}) for label, value in [
        ("2**63", 2**63), ("10**30", 10**30), ("-1", -1), ("-2**63", -(2**63)), ("1.5", 1.5), ("1.0", 1.0),
        ("1e308", 1e308), ("string", "1"), ("null", None), ("true", True), ("array", [1]), ("object", {"id": 1}),
    ]}
    with_version = {f"version {label}": _encoded({**genuine, "v": value}) for label, value in [
        ("0", 0), ("2", 2), ("string", "1"), ("null", None), ("-1", -1),
    ]}
    return {
        **with_after,
        **with_version,
        "no after": _encoded({key: value for key, value in genuine.items() if key != "after"}),
        "no version": _encoded({key: value for key, value in genuine.items() if key != "v"}),
        "no fingerprint": _encoded({key: value for key, value in genuine.items() if key != "f"}),
        "other filters' fingerprint": _encoded({**genuine, "f": other_filters_fingerprint}),
        "empty fingerprint": _encoded({**genuine, "f": ""}),
        "longer fingerprint": _encoded({**genuine, "f": genuine["f"] + "0"}),
        "fingerprint as number": _encoded({**genuine, "f": 0}),
        "array": _encoded([genuine["v"], genuine["after"], genuine["f"]]),
        "number": _encoded(1),
        "null": _encoded(None),
        "nested arrays": _encoded(json.loads("[" * 70 + "]" * 70)),
        "not json": base64.urlsafe_b64encode(b"\x00\xff\xfe garbage").decode(),
        "not base64": "!!!!",
        "not ascii": "é" * 8,
    }


@pytest.fixture
def seeded(db):
    """Five students, three of them active: enough for a genuine cursor on every listing."""
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO students (first_name, last_name, email, status) VALUES (%s, %s, %s, %s)",
            [(f"F{n}", f"L{n}", f"s{n}@example.org", status)
             for n, status in enumerate(["active", "inactive", "active", "graduated", "active"], start=1)],
        )


def _genuine_cursor(api, path: str) -> dict:
    reply = api.send(Call("GET", path))
    assert reply.status == 200 and reply.json["next_cursor"], reply.body
    return _decoded(reply.json["next_cursor"])


@pytest.mark.parametrize(
    ("path", "other_filters_path"),
    [
        ("/students?limit=1", "/students?limit=1&status=active"),
        ("/students?limit=1&status=active", "/students?limit=1&status=active&q=f"),
        ("/students/1/audit?limit=1", "/students/2/audit?limit=1"),
    ],
    ids=["list", "list filtered by status", "audit trail"],
)
def test_a_forged_cursor_is_400_and_reads_nothing(api, seeded, database_state, path, other_filters_path):
    # Given genuine cursors of this listing and of another one (audit trails need a few audited reads first)
    for student_id in (1, 2):
        api.send(Call("GET", f"/students/{student_id}"))
        api.send(Call("GET", f"/students/{student_id}"))
    genuine = _genuine_cursor(api, path)
    other_filters_fingerprint = _genuine_cursor(api, other_filters_path)["f"]
    before = database_state()
    for name, forged in _forgeries(genuine, other_filters_fingerprint).items():
        # When a variation of the genuine cursor is sent in its place
        reply = api.send(Call("GET", f"{path}&cursor={forged}"))
        # Then it is refused as a cursor this API did not issue
        assert reply.status == 400, (name, reply.body)
        assert_refused(reply, 400, "invalid-cursor")
        assert [error["field"] for error in reply.json["errors"]] == ["cursor"], name
    # And no page was read: a listing that ran would have audited every row it returned
    assert database_state() == before


def test_a_cursor_longer_than_200_characters_is_422(api, seeded, database_state):
    before = database_state()
    reply = api.send(Call("GET", f"/students?cursor={_encoded({'v': 1, 'after': 1, 'f': 'x' * 150})}"))
    assert_refused(reply, 422, "validation-failed")
    assert database_state() == before


@pytest.mark.parametrize("after", [0, 2**63 - 1], ids=["start", "largest id"])
def test_a_rewritten_start_never_escapes_the_listings_filters(api, seeded, after):
    """The cursor's fingerprint has no secret, so a client can rewrite where a page starts. That is harmless
    as long as the page still obeys the filters of the request: whatever the cursor says, it reads nothing
    the caller could not list anyway."""
    # Given a genuine cursor of the active students, rewritten to start elsewhere
    rewritten = _encoded({**_genuine_cursor(api, "/students?limit=1&status=active"), "after": after})
    # When it is used
    reply = api.send(Call("GET", f"/students?status=active&cursor={rewritten}"))
    # Then it is refused, or a page of active students only
    if reply.status != 200:
        assert_refused(reply, 400, "invalid-cursor")
    else:
        assert {item["status"] for item in reply.json["items"]} <= {"active"}
