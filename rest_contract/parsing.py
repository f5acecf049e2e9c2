"""Turns the raw parts of a request into validated domain inputs, the same way for both doors."""

import re
from collections.abc import Sequence
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InvalidFields, MalformedRequest, PayloadTooLarge, UnsupportedMediaType
from .http import ApiRequest

DEFAULT_MAX_BODY_BYTES = 64 * 1024  # MAX_BODY_BYTES (application/settings.py) when not set
_ID = re.compile(r"[1-9][0-9]{0,18}")  # fullmatch: "$" would also accept a trailing newline
_MAX_ID = 2**63 - 1  # PostgreSQL bigint
_ENTITY_TAG = re.compile(r'(?:W/)?"([1-9][0-9]{0,9})"')
Model = TypeVar("Model", bound=BaseModel)


def field_errors(error: ValidationError, location: str) -> list[dict[str, str]]:
    # Never the input itself: an invalid value may still be someone's name or email.
    return [
        {
            "field": ".".join(str(part) for part in detail["loc"]) or location,
            "in": location,
            "message": detail["msg"],
            "type": detail["type"],
        }
        for detail in error.errors(include_url=False, include_input=False, include_context=False)
    ]


def parse_body(model: type[Model], request: ApiRequest, max_bytes: int) -> Model:
    content_type = (request.header("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(content_type)
    body = request.body or b""
    if len(body) > max_bytes:
        raise PayloadTooLarge(max_bytes)
    if not body.strip():
        raise MalformedRequest("the request needs a JSON body")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the request body is not valid UTF-8") from None
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        if any(detail["type"] == "json_invalid" for detail in error.errors()):
            raise MalformedRequest("the request body is not valid JSON") from None
        if any(detail["type"] == "model_type" for detail in error.errors()):
            raise InvalidFields(field_errors(error, "body"), "the request body must be a JSON object") from None
        raise InvalidFields(field_errors(error, "body")) from None


def parse_query(model: type[Model], pairs: Sequence[tuple[str, str]]) -> Model:
    # The last value of a repeated key wins, as in API Gateway's single-value map.
    try:
        return model.model_validate(dict(pairs))
    except ValidationError as error:
        raise InvalidFields(field_errors(error, "query")) from None


def parse_id(request: ApiRequest, name: str) -> int:
    raw = request.path_params.get(name, "")
    if not _ID.fullmatch(raw) or int(raw) > _MAX_ID:
        raise InvalidFields(
            [{"field": name, "in": "path", "message": "must be a positive whole number", "type": "int_parsing"}],
            f"{name} must be a positive whole number",
        )
    return int(raw)


def parse_if_match(request: ApiRequest) -> int | None:
    """The version an If-Match entity tag names; None when absent or `*` (any version)."""
    raw = request.header("if-match")
    if raw is None or raw.strip() == "*":
        return None
    match = _ENTITY_TAG.fullmatch(raw.strip())
    if not match:
        raise InvalidFields(
            [{"field": "If-Match", "in": "header", "message": 'must be an entity tag such as "3"', "type": "etag"}],
            "If-Match must be the ETag of the record",
        )
    return int(match[1])


_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


def parse_idempotency_key(request: ApiRequest) -> str | None:
    raw = request.header("idempotency-key")
    if raw is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(raw.strip()):
        raise InvalidFields(
            [{"field": "Idempotency-Key", "in": "header", "message": "1 to 255 visible ASCII characters",
              "type": "idempotency_key"}],
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
    return raw.strip()


def entity_tag(version: int) -> str:
    return f'"{version}"'
