"""Forged page cursors on both doors: crafted payloads, other versions, other filters' fingerprints, broken
encodings, a genuine cursor edited or signed with another key, are 400 invalid-cursor, on the student list and on
the audit trail alike. A cursor is `<payload>.<signature>`: the payload, JSON in base64url (`{"v", "after", "f"}`),
signed with HMAC-SHA256 under CURSOR_SIGNING_KEY (student_records/paging.py)."""

import base64
import json

import pytest

from student_records.paging import Pager
from tests.doors import Call
from tests.hostile.refusals import assert_refused


def _encoded(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()


def _decoded(cursor: str) -> dict:
    payload = cursor.partition(".")[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _signature(cursor: str) -> str:
    return cursor.partition(".")[2]


def _forgeries(genuine: dict, signature: str, other_filters_fingerprint: str) -> dict[str, str]:
    """Cursors this API never issued, each a variation of a genuine one: its payload edited, with the genuine
    signature kept, or a payload of another shape."""
    edited = {
        name: f"{cursor}.{signature}" for name, cursor in _edited_payloads(genuine, other_filters_fingerprint).items()
    }
    return {
        **edited,
        "unsigned": _encoded(genuine),
        "unsigned version 1, as cursors were": _encoded({**genuine, "v": 1}),
        "no signature": f"{_encoded(genuine)}.",
        "signature of another payload": f"{_encoded({**genuine, 'after': genuine['after'] + 1})}.{signature}",
        "signature truncated": f"{_encoded(genuine)}.{signature[:-2]}",
        "signature not base64": f"{_encoded(genuine)}.!!!!",
        "two signatures": f"{_encoded(genuine)}.{signature}.{signature}",
        "nested arrays": _encoded(json.loads("[" * 70 + "]" * 70)),
        "not json": base64.urlsafe_b64encode(b"\x00\xff\xfe garbage").decode(),
        "not base64": "!!!!",
        "not ascii": "é" * 8,
    }


def _edited_payloads(genuine: dict, other_filters_fingerprint: str) -> dict[str, str]:
    with_after = {
        f"after {label}": _encoded({**genuine, "after": value})
        for label, value in [
            ("2**63", 2**63),
            ("10**30", 10**30),
            ("-1", -1),
            ("-2**63", -(2**63)),
            ("1.5", 1.5),
            ("1.0", 1.0),
            ("1e308", 1e308),
            ("string", "1"),
            ("null", None),
            ("true", True),
            ("array", [1]),
            ("object", {"id": 1}),
        ]
    }
    with_version = {
        f"version {label}": _encoded({**genuine, "v": value})
        for label, value in [("0", 0), ("2", 2), ("string", "1"), ("null", None), ("-1", -1)]
    }
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
    }


@pytest.fixture
def seeded(db):
    """Five students, three of them active: enough for a genuine cursor on every listing."""
    with db.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO students (first_name, last_name, email, status) VALUES (%s, %s, %s, %s)",
            [
                (f"F{n}", f"L{n}", f"s{n}@example.org", status)
                for n, status in enumerate(["active", "inactive", "active", "graduated", "active"], start=1)
            ],
        )


def _genuine_cursor(api, path: str) -> str:
    reply = api.send(Call("GET", path))
    assert reply.status == 200 and reply.json["next_cursor"], reply.body
    return reply.json["next_cursor"]


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
    other_filters_fingerprint = _decoded(_genuine_cursor(api, other_filters_path))["f"]
    before = database_state()
    for name, forged in _forgeries(_decoded(genuine), _signature(genuine), other_filters_fingerprint).items():
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
def test_a_rewritten_start_is_refused(api, seeded, database_state, after):
    # Given a genuine cursor of the active students, its start rewritten, its signature kept
    genuine = _genuine_cursor(api, "/students?limit=1&status=active")
    rewritten = f"{_encoded({**_decoded(genuine), 'after': after})}.{_signature(genuine)}"
    before = database_state()
    # When it is used
    reply = api.send(Call("GET", f"/students?status=active&cursor={rewritten}"))
    # Then it is refused, and nothing was read
    assert_refused(reply, 400, "invalid-cursor")
    assert database_state() == before


def test_a_cursor_signed_with_another_key_is_refused(api, seeded, database_state):
    # Given a cursor of this very listing, exactly as this API makes it, but under another deployment's key
    genuine = _decoded(_genuine_cursor(api, "/students?limit=1"))
    elsewhere = Pager(b"another deployment's cursor signing key").cursor(genuine["after"], (None, None))
    assert _decoded(elsewhere) == genuine
    before = database_state()
    # When it is used here
    reply = api.send(Call("GET", f"/students?limit=1&cursor={elsewhere}"))
    # Then it is refused as a cursor this API did not issue
    assert_refused(reply, 400, "invalid-cursor")
    assert reply.json["detail"] == "the cursor is not one this API issued"
    assert database_state() == before
