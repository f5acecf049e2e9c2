"""One front door over HTTP(S), for the end-to-end suite: every request numbered with the run's
X-Request-Id, every reply checked against the committed OpenAPI document."""

import http.client
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from observability.requests import REQUEST_ID_HEADER
from rest_contract.problems import PROBLEM_JSON

from .contract_check import documented_operation, reply_mismatch

TIMEOUT_S = 30
RATE_LIMITED_RETRIES = 3
LONGEST_RETRY_WAIT_S = 60
_EXCHANGE_ERRORS = (OSError, http.client.HTTPException)


class ScenarioFailed(Exception):
    """A reply other than the contract promises; the message says which request (by its X-Request-Id)."""


@dataclass(frozen=True)
class Identity:
    role: str
    token: str
    subject: str  # the token's `sub`: a teacher teaches the offerings whose teacher_sub is this


@dataclass(frozen=True)
class Reply:
    request: str  # "GET /students/7 [e2e-1a2b3c4d-12]": the X-Request-Id sent, for messages
    # The X-Request-Id of the reply: the correlation id the app logged, traced and audited the request under
    # (the one sent at the Flask door, API Gateway's request id at the Lambda door); None from API Gateway itself.
    correlation_id: str | None
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0]

    @property
    def problem_type(self) -> str | None:
        """A problem document's type (urn:student-records:problem:not-found); None for other replies."""
        return self.json.get("type") if self.media_type == PROBLEM_JSON else None


@dataclass(frozen=True)
class SentRequest:
    door: str
    request_id: str
    correlation_id: str | None  # as in Reply


@dataclass
class RequestLog:
    """Every request of the run, for the signal checks; request ids are numbered across doors."""

    run_id: str
    sent: list[SentRequest] = field(default_factory=list)
    _count: int = 0

    def next_request_id(self) -> str:
        self._count += 1
        return f"e2e-{self.run_id}-{self._count}"

    def correlation_ids(self, door: str) -> list[str]:
        """Of the door's requests that reached the app, in the order sent."""
        return [request.correlation_id for request in self.sent if request.door == door and request.correlation_id]


class Door:
    def __init__(self, name: str, base_url: str, log: RequestLog, progress: Callable[[str], None]) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.name = name
        self.base_url = base_url
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._netloc = parts.netloc
        self._prefix = parts.path.rstrip("/")  # API Gateway's stage, e.g. /v1
        self._connection: http.client.HTTPConnection | None = None
        self._log = log
        self._progress = progress
        self.operations_called: set[str] = set()

    def send(
        self,
        method: str,
        path: str,
        *,
        identity: Identity | None = None,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """`path` is the API's (e.g. /students?limit=2), without the base URL's own path."""
        request_headers = dict(headers or {})
        if identity is not None:
            request_headers["Authorization"] = f"Bearer {identity.token}"
        if json_body is not None:
            body = json.dumps(json_body).encode()
            request_headers.setdefault("Content-Type", "application/json")
        api_path = urlsplit(path).path
        operation = documented_operation(method, api_path)
        if operation is not None:
            self.operations_called.add(operation["operationId"])
        reply = self._send_once(method, path, body, request_headers)
        for _ in range(RATE_LIMITED_RETRIES):
            if reply.status != 429:
                break
            retry_after = reply.headers.get("retry-after", "")
            wait = min(int(retry_after), LONGEST_RETRY_WAIT_S) if retry_after.isdecimal() else 1
            self._progress(f"{self.name}: rate-limited on {reply.request}; retrying in {wait} s")
            time.sleep(wait)
            reply = self._send_once(method, path, body, request_headers)
        mismatch = reply_mismatch(method, api_path, reply.status, reply.headers.get("content-type", ""), reply.body)
        if mismatch:
            raise ScenarioFailed(f"{reply.request}: breaks openapi.json: {mismatch}")
        return reply

    def _send_once(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        request_id = self._log.next_request_id()
        request = f"{method} {path} [{request_id}]"
        try:
            status, reply_headers, reply_body = self._exchange(
                method, self._prefix + path, body, {**headers, REQUEST_ID_HEADER: request_id}
            )
        except _EXCHANGE_ERRORS as error:  # refused, reset, timed out, TLS, garbled: the door cannot be reached
            raise ScenarioFailed(f"{request}: {self.base_url} did not answer: {error}") from None
        correlation_id = reply_headers.get(REQUEST_ID_HEADER.lower())
        self._log.sent.append(SentRequest(self.name, request_id, correlation_id))
        return Reply(request, correlation_id, status, reply_headers, reply_body)

    def _exchange(
        self, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        if self._connection is not None:
            try:
                return self._exchange_on(self._connection, method, target, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed the kept-alive connection while it was idle: the request goes again on a
                # new one. A new connection's failure is final.
                self.close()
            except _EXCHANGE_ERRORS:
                self.close()
                raise
        self._connection = self._connection_class(self._netloc, timeout=TIMEOUT_S)
        try:
            return self._exchange_on(self._connection, method, target, body, headers)
        except _EXCHANGE_ERRORS:
            self.close()
            raise

    @staticmethod
    def _exchange_on(
        connection: http.client.HTTPConnection, method: str, target: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        connection.request(method, target, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
