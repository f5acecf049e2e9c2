"""Who may do what: every route x every role x own/other record, on both doors; and bad tokens."""

import time

import jwt
import pytest

from tests.doors import Call, token_for

STUDENT_BODY = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.org"}
DIRECTORY_FIELDS = {"id", "student_number", "first_name", "last_name", "status"}

# role -> expected status, per route; "own"/"other" are a student token for that record or another one.
MATRIX = {
    ("GET", "/health"): {"anonymous": 200, "admin": 200, "registrar": 200, "teacher": 200, "own": 200, "other": 200},
    ("GET", "/health/ready"): {
        "anonymous": 200,
        "admin": 200,
        "registrar": 200,
        "teacher": 200,
        "own": 200,
        "other": 200,
    },
    ("GET", "/students/count"): {
        "anonymous": 401,
        "admin": 200,
        "registrar": 200,
        "teacher": 200,
        "own": 403,
        "other": 403,
    },
    ("GET", "/students"): {"anonymous": 401, "admin": 200, "registrar": 200, "teacher": 200, "own": 403, "other": 403},
    ("POST", "/students"): {"anonymous": 401, "admin": 201, "registrar": 201, "teacher": 403, "own": 403, "other": 403},
    ("GET", "/students/{id}"): {
        "anonymous": 401,
        "admin": 200,
        "registrar": 200,
        "teacher": 200,
        "own": 200,
        "other": 404,
    },
    ("PATCH", "/students/{id}"): {
        "anonymous": 401,
        "admin": 200,
        "registrar": 200,
        "teacher": 403,
        "own": 403,
        "other": 403,
    },
    ("DELETE", "/students/{id}"): {
        "anonymous": 401,
        "admin": 204,
        "registrar": 204,
        "teacher": 403,
        "own": 403,
        "other": 403,
    },
    ("GET", "/students/{id}/audit"): {
        "anonymous": 401,
        "admin": 200,
        "registrar": 403,
        "teacher": 403,
        "own": 403,
        "other": 403,
    },
}
ROLES = ["anonymous", "admin", "registrar", "teacher", "own", "other"]


def _headers(role: str, student_id: int) -> dict[str, str]:
    if role == "anonymous":
        return {}
    if role in ("own", "other"):
        token = token_for("student", student_id=student_id if role == "own" else student_id + 1000)
    else:
        token = token_for(role)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(MATRIX), ids=[f"{m} {p}" for m, p in MATRIX])
def test_role_matrix(api, create, route, role):
    # Given a student record
    student_id = create()["id"]
    method, template = route
    path = template.replace("{id}", str(student_id))
    body = {"POST": {**STUDENT_BODY, "email": "new@example.org"}, "PATCH": {"status": "inactive"}}.get(method)
    # When the route is called with this role's token
    reply = api.send(Call(method, path, json_body=body, headers=_headers(role, student_id), as_admin=False))
    # Then the answer is the one the matrix promises
    assert reply.status == MATRIX[route][role], reply.body
    if reply.status == 401:
        assert reply.headers["www-authenticate"].startswith('Bearer realm="student-records"')
    if reply.status in (401, 403):
        assert reply.content_type == "application/problem+json"


def test_teachers_see_directory_fields_only(api, create):
    student_id = create(date_of_birth="2001-02-03")["id"]
    teacher = {"Authorization": f"Bearer {token_for('teacher')}"}
    one = api.send(Call("GET", f"/students/{student_id}", headers=teacher, as_admin=False)).json
    assert set(one) == DIRECTORY_FIELDS
    page = api.send(Call("GET", "/students", headers=teacher, as_admin=False)).json
    assert {key for item in page["items"] for key in item} == DIRECTORY_FIELDS


def test_teachers_cannot_search_by_email(api, create):
    create(first_name="Zed", last_name="Quill", email="hidden-handle@example.org")
    teacher = {"Authorization": f"Bearer {token_for('teacher')}"}
    by_email = api.send(Call("GET", "/students?q=hidden-handle", headers=teacher, as_admin=False)).json
    by_name = api.send(Call("GET", "/students?q=quill", headers=teacher, as_admin=False)).json
    assert by_email["items"] == []
    assert [item["last_name"] for item in by_name["items"]] == ["Quill"]


def test_students_get_their_whole_record(api, create):
    created = create(date_of_birth="2001-02-03")
    mine = {"Authorization": f"Bearer {token_for('student', student_id=created['id'])}"}
    reply = api.send(Call("GET", f"/students/{created['id']}", headers=mine, as_admin=False))
    assert reply.json == created


def _forged(**claims) -> str:
    """A token with the right shape, signed by a key nobody trusts."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    payload = {
        "sub": "mallory",
        "iss": "https://student-records.local/issuer",
        "aud": "student-records-local",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["admin"],
        **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "local-dev-key"})


def _signed(**claims) -> str:
    """A token signed with the trusted key, with some claims replaced."""
    import os
    from pathlib import Path

    key = (Path(os.environ["AUTH_KEY_DIR"]) / "signing-key.pem").read_bytes()
    now = int(time.time())
    payload = {
        "sub": "someone",
        "iss": "https://student-records.local/issuer",
        "aud": "student-records-local",
        "iat": now,
        "exp": now + 600,
        "cognito:groups": ["admin"],
        **claims,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "local-dev-key"})


@pytest.mark.parametrize(
    ("name", "authorization", "status"),
    [
        ("forged signature", lambda: f"Bearer {_forged()}", 401),
        ("expired", lambda: f"Bearer {_signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)}", 401),
        ("other issuer", lambda: f"Bearer {_signed(iss='https://evil.example')}", 401),
        ("other audience", lambda: f"Bearer {_signed(aud='another-app')}", 401),
        ("no subject", lambda: f"Bearer {_signed(sub=None)}", 401),
        (
            "alg none",
            lambda: "Bearer " + jwt.encode({"sub": "x", "cognito:groups": ["admin"]}, None, algorithm="none"),
            401,
        ),
        ("garbage", lambda: "Bearer not.a.jwt", 401),
        ("basic scheme", lambda: "Basic YWRtaW46YWRtaW4=", 401),
        ("no role", lambda: f"Bearer {_signed(**{'cognito:groups': ['parents']})}", 403),
        ("access token with client_id", lambda: f"Bearer {_signed(aud=None, client_id='student-records-local')}", 200),
    ],
)
def test_tokens(api, name, authorization, status):
    reply = api.send(Call("GET", "/students/count", headers={"Authorization": authorization()}, as_admin=False))
    assert reply.status == status, (name, reply.body)
    if status == 401:
        assert 'error="invalid_token"' in reply.headers["www-authenticate"] or name == "basic scheme"
