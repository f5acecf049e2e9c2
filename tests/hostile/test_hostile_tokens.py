"""Credentials smuggled or malformed, on both doors (forged signatures, expiry, issuer, audience and alg=none
are in tests/contract/test_access_control.py): repeated Authorization headers, oversized and hand-crafted
tokens, tokens in the query string, claims that arrive without a token."""

import base64
import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from application import Application
from flask_backend import create_app
from handlers.api import create_handler
from local_stack.dev_auth import AUDIENCE, ISSUER
from local_stack.gateway import build_rest_event, invoke, lambda_response_to_http
from tests.doors import ROUTE_TEMPLATES, Call, Reply, assert_reply_matches_openapi, token_for
from tests.hostile.refusals import assert_refused

KEY_ID = "local-dev-key"


def _segment(document: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


def _admin_claims() -> dict:
    now = int(time.time())
    return {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, "cognito:groups": ["admin"]}


def _forged_admin_token() -> str:
    """An admin token of the right shape and key id, signed by a key nobody trusts."""
    untrusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(_admin_claims(), untrusted, algorithm="RS256", headers={"kid": KEY_ID})


def _hs256_signed_with_the_public_key() -> str:
    """The algorithm-confusion attack: HMAC keyed with the trusted RSA public key, which anyone can read."""
    private_key = serialization.load_pem_private_key(
        (Path(os.environ["AUTH_KEY_DIR"]) / "signing-key.pem").read_bytes(), password=None
    )
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': KEY_ID})}.{_segment(_admin_claims())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


@dataclass(frozen=True)
class HeaderListDoor:
    """A door sent requests whose header names may repeat, which the contract suite's Call cannot express."""

    name: str
    application: Application

    def send(self, method: str, path: str, headers: list[tuple[str, str]]) -> Reply:
        if self.name == "flask":
            response = create_app(application=self.application).test_client().open(path, method=method, headers=headers)
            reply = Reply(
                response.status_code,
                {name.lower(): value for name, value in response.headers.items()},
                response.get_data(),
                self.name,
            )
        else:
            url = urlsplit(path)
            event = build_rest_event(
                method, url.path, query=parse_qsl(url.query), headers=headers, route_templates=ROUTE_TEMPLATES
            )
            result = invoke(create_handler(application=self.application), event, function_name="student-records-api")
            status, reply_headers, body = lambda_response_to_http(result)
            reply = Reply(status, {name.lower(): value for name, value in reply_headers}, body, self.name)
        assert_reply_matches_openapi(Call(method, path), reply)
        return reply


@pytest.fixture(params=["lambda", "flask"])
def door(request, db, application) -> HeaderListDoor:
    """Each door, over a database holding student 1."""
    db.execute("INSERT INTO students (first_name, last_name, email) VALUES ('Ada', 'Lovelace', 'ada@example.org')")
    return HeaderListDoor(request.param, application)


class TestRepeatedAuthorization:
    @pytest.mark.parametrize("forged_first", [True, False], ids=["forged first", "forged last"])
    def test_a_forged_admin_token_beside_a_valid_teacher_token_is_never_honoured(
        self, door, database_state, forged_first
    ):
        # Given a forged admin token and a genuine teacher token in two Authorization headers
        forged, teacher = f"Bearer {_forged_admin_token()}", f"Bearer {token_for('teacher')}"
        pair = [forged, teacher] if forged_first else [teacher, forged]
        before = database_state()
        # When they ask for what only an admin may read
        reply = door.send("GET", "/students/1/audit", [("Authorization", value) for value in pair])
        # Then no admin right is granted, whichever header a door reads
        assert reply.status in (401, 403), reply.body
        assert_refused(reply, reply.status)
        assert database_state() == before

    @pytest.mark.parametrize(
        "names",
        [("Authorization", "Authorization"), ("Authorization", "authorization")],
        ids=["same name", "names differing in case"],
    )
    def test_two_authorization_headers_are_refused_as_401(self, request, door, database_state, names):
        # Given two genuine tokens, each sent in its own Authorization header
        tokens = [f"Bearer {token_for('teacher')}", f"Bearer {token_for('admin')}"]
        before = database_state()
        # When an admin-only record is asked for
        reply = door.send("GET", "/students/1/audit", list(zip(names, tokens, strict=False)))
        # Then the ambiguous credentials are refused, not resolved by picking one
        assert_refused(reply, 401, "unauthorized")
        assert database_state() == before


class TestMalformedTokens:
    @pytest.mark.parametrize(
        "authorization",
        [
            pytest.param(lambda: "Bearer " + "A" * 1_000_000, id="1 MB of token"),
            pytest.param(
                lambda: f"Bearer {_segment({'alg': 'RS256', 'kid': KEY_ID})}.{'A' * 200_000}.{'A' * 342}",
                id="200 kB payload",
            ),
            pytest.param(
                lambda: f"Bearer {base64.urlsafe_b64encode(b'[' * 5_000 + b']' * 5_000).decode()}.e30.c2ln",
                id="5k-deep header",
            ),
            pytest.param(
                lambda: f"Bearer {_segment({'alg': 'RS256', 'kid': ['local-dev-key']})}.e30.c2ln", id="key id as array"
            ),
            pytest.param(
                lambda: f"Bearer {_segment({'alg': 'RS256', 'kid': KEY_ID + chr(39) + ' OR 1=1'})}.e30.c2ln",
                id="key id with sql",
            ),
            pytest.param(
                lambda: f"Bearer {_segment({'alg': 'RS256', 'kid': '../../../etc/passwd'})}.e30.c2ln",
                id="key id as path",
            ),
            pytest.param(lambda: f"Bearer {_hs256_signed_with_the_public_key()}", id="hs256 keyed with the public key"),
            pytest.param(lambda: f"Bearer {token_for('admin')} {token_for('admin')}", id="two tokens in one header"),
            pytest.param(lambda: f"Bearer {token_for('admin')[:-4]}AAAA", id="signature's last bytes changed"),
            pytest.param(lambda: "Bearer é.é.é", id="non-ascii"),
            pytest.param(lambda: "Bearer a\u0000b.c.d", id="nul"),
            pytest.param(lambda: "Bearer", id="scheme alone"),
        ],
    )
    def test_a_malformed_or_crafted_token_is_401(self, door, database_state, authorization):
        before = database_state()
        reply = door.send("GET", "/students/count", [("Authorization", authorization())])
        assert_refused(reply, 401, "unauthorized")
        assert reply.headers["www-authenticate"].startswith('Bearer realm="student-records"')
        assert database_state() == before


class TestCredentialsOutsideTheAuthorizationHeader:
    @pytest.mark.parametrize("parameter", ["access_token", "token", "id_token", "Authorization", "jwt"])
    @pytest.mark.parametrize("path", ["/students/count", "/students", "/students/1"])
    def test_a_token_in_the_query_string_is_ignored(self, door, database_state, path, parameter):
        # Given a genuine admin token, in the query string only
        token = quote(token_for("admin"), safe="")
        before = database_state()
        # When it is the only credential of a request
        reply = door.send("GET", f"{path}?{parameter}={token}", [])
        # Then the request is unauthenticated (before its unknown parameter is even looked at)
        assert_refused(reply, 401, "unauthorized")
        assert "invalid_token" not in reply.headers["www-authenticate"]
        assert database_state() == before

    @pytest.mark.parametrize("header", ["X-Amz-Cognito-Claims", "X-Forwarded-User", "X-Remote-User", "Cookie"])
    def test_an_identity_in_another_header_is_ignored(self, door, header):
        value = f"token={token_for('admin')}" if header == "Cookie" else json.dumps(_admin_claims())
        reply = door.send("GET", "/students/count", [(header, value)])
        assert_refused(reply, 401, "unauthorized")

    def test_the_lambda_door_ignores_authorizer_claims_without_a_token(self, db, application):
        # Given an event whose request context carries admin claims, as a Cognito authorizer would add them
        event = build_rest_event("GET", "/students/count", route_templates=ROUTE_TEMPLATES)
        event["requestContext"]["authorizer"] = {"claims": {"sub": "mallory", "cognito:groups": "admin"}}
        # When it reaches the handler without an Authorization header
        status, _, body = lambda_response_to_http(
            invoke(create_handler(application=application), event, function_name="student-records-api")
        )
        # Then the door trusts nothing it did not verify itself
        assert status == 401, body

    def test_the_lambda_door_refuses_a_forged_token_whatever_the_authorizer_claims(self, db, application):
        # Given admin claims in the request context, beside a token no trusted key signed: any principal that
        # IAM lets invoke the function can send such an event directly, with no authorizer in the way
        forged = [("Authorization", f"Bearer {_forged_admin_token()}")]
        event = build_rest_event("GET", "/students/count", headers=forged, route_templates=ROUTE_TEMPLATES)
        event["requestContext"]["authorizer"] = {"claims": {"sub": "mallory", "cognito:groups": "admin"}}
        # When it reaches the handler
        status, _, body = lambda_response_to_http(
            invoke(create_handler(application=application), event, function_name="student-records-api")
        )
        # Then the token's own signature decides
        assert status == 401, body
