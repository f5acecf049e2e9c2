"""Framework-neutral request and response."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

JSON = "application/json"


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path_params: Mapping[str, str]
    query: Sequence[tuple[str, str]]  # every pair in arrival order: repeated keys stay visible
    headers: Mapping[str, str]  # lower-cased names
    body: bytes | None
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
