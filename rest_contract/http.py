"""Framework-neutral request and response."""

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

JSON = "application/json"


class RequestBody:
    """A request's body, read (and decoded, where the door must) only when an endpoint asks for it: a route that
    takes no body never reads one, so a body that cannot be read fails only the routes that take a body."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read  # at most `limit` + 1 bytes; may raise MalformedRequest (a body that does not decode)
        self._bytes: bytes | None = None

    @classmethod
    def of(cls, data: bytes | None) -> "RequestBody":
        """A body already in memory (None: no body)."""
        return cls(lambda limit: (data or b"")[: limit + 1])

    def read(self, limit: int) -> bytes:
        """The body, or its first `limit` + 1 bytes: one byte past the limit tells it was exceeded without reading
        the rest. Read once: a stream cannot be read twice."""
        if self._bytes is None:
            self._bytes = self._read(limit)
        return self._bytes


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path_params: Mapping[str, str]  # percent-decoded, once
    query: Sequence[tuple[str, str]]  # every pair in arrival order: repeated keys stay visible
    headers: Mapping[str, str]  # lower-cased names
    body: RequestBody
    correlation_id: str  # the request's id in logs, traces and audit rows, as the door received or minted it

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def all_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.content_type:
            headers["Content-Type"] = self.content_type
        return headers


def json_response(status: int, payload: object, headers: Mapping[str, str] | None = None) -> ApiResponse:
    return ApiResponse(status, encode_json(payload), JSON, headers or {})


def encode_json(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
