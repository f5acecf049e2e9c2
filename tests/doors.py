"""Clients that drive each front door in-process with the same calls, for the shared contract suite."""

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from application import Application
from deployed.contract_check import reply_mismatch
from rest_contract.operations import OPERATIONS

ROUTE_TEMPLATES = [operation.path for operation in OPERATIONS]


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    door: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def token_for(role: str, student_id: int | None = None, subject: str | None = None) -> str:
    """A token signed with the run's test key (see the auth_keys fixture)."""
    import os

    from local_stack.dev_auth import issue_token

    return issue_token(role, student_id=student_id, subject=subject, key_dir=Path(os.environ["AUTH_KEY_DIR"]))


@cache
def _admin_token() -> str:
    return token_for("admin", subject="contract-suite-admin")


@dataclass
class Call:
    method: str
    path: str  # may carry a query string
    json_body: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    as_admin: bool = True  # an admin's bearer token unless the call sets Authorization or as_admin=False

    def raw(self) -> tuple[str, list[tuple[str, str]], dict[str, str], bytes | None]:
        parts = urlsplit(self.path)
        headers = dict(self.headers)
        if self.as_admin and not any(name.lower() == "authorization" for name in headers):
            headers["Authorization"] = f"Bearer {_admin_token()}"
        body = self.body
        if self.json_body is not None:
            body = json.dumps(self.json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        return parts.path, parse_qsl(parts.query, keep_blank_values=True), headers, body


class FlaskDoor:
    name = "flask"

    def __init__(self, application: Application) -> None:
        from flask_backend import create_app

        self._client = create_app(application=application).test_client()

    def send(self, call: Call) -> Reply:
        path, query, headers, body = call.raw()
        response = self._client.open(path, method=call.method, query_string=query, headers=headers, data=body)
        return Reply(
            response.status_code,
            {name.lower(): value for name, value in response.headers.items()},
            response.get_data(),
            self.name,
        )


class LambdaDoor:
    name = "lambda"

    def __init__(self, application: Application) -> None:
        from handlers.api import create_handler

        self.handler = create_handler(application=application)

    def send(self, call: Call) -> Reply:
        from local_stack.gateway import build_rest_event, invoke, lambda_response_to_http

        path, query, headers, body = call.raw()
        event = build_rest_event(
            call.method, path, query=query, headers=list(headers.items()), body=body, route_templates=ROUTE_TEMPLATES
        )
        status, reply_headers, reply_body = lambda_response_to_http(
            invoke(self.handler, event, function_name="student-records-api")
        )
        return Reply(status, {name.lower(): value for name, value in reply_headers}, reply_body, self.name)


class CheckedDoor:
    """A door whose every reply is checked against the committed OpenAPI document."""

    def __init__(self, door: FlaskDoor | LambdaDoor) -> None:
        self._door = door
        self.name = door.name

    def send(self, call: Call) -> Reply:
        reply = self._door.send(call)
        assert_reply_matches_openapi(call, reply)
        return reply


def make_door(name: str, application: Application) -> CheckedDoor:
    return CheckedDoor({"flask": FlaskDoor, "lambda": LambdaDoor}[name](application))


def assert_reply_matches_openapi(call: Call, reply: Reply) -> None:
    """Status documented for the operation, media type as documented, body valid against its schema."""
    mismatch = reply_mismatch(call.method, urlsplit(call.path).path, reply.status, reply.content_type, reply.body)
    assert mismatch is None, mismatch
