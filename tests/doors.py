"""Clients that drive each front door in-process with the same calls, for the shared contract suite."""

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, parse_qsl

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


@dataclass
class Call:
    method: str
    path: str  # may carry a query string
    json_body: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def raw(self) -> tuple[str, list[tuple[str, str]], dict[str, str], bytes | None]:
        parts = urlsplit(self.path)
        headers = dict(self.headers)
        body = self.body
        if self.json_body is not None:
            body = json.dumps(self.json_body).encode()
            headers.setdefault("Content-Type", "application/json")
        return parts.path, parse_qsl(parts.query, keep_blank_values=True), headers, body


class FlaskDoor:
    name = "flask"

    def __init__(self) -> None:
        from flask_backend import create_app

        self._client = create_app().test_client()

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

    def send(self, call: Call) -> Reply:
        from handlers.api import lambda_handler
        from local_stack.gateway import build_rest_event, invoke, lambda_response_to_http

        path, query, headers, body = call.raw()
        event = build_rest_event(
            call.method, path, query=query, headers=list(headers.items()), body=body, route_templates=ROUTE_TEMPLATES
        )
        status, reply_headers, reply_body = lambda_response_to_http(
            invoke(lambda_handler, event, function_name="student-records-api")
        )
        return Reply(status, {name.lower(): value for name, value in reply_headers}, reply_body, self.name)


def make_door(name: str) -> FlaskDoor | LambdaDoor:
    return {"flask": FlaskDoor, "lambda": LambdaDoor}[name]()
