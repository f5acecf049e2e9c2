"""Turns the raw parts of a request into validated domain inputs, the same way for both doors."""

import re
from collections.abc import Sequence
from typing import TypeVar

import jiter
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
    """The body as `model`, by one rule on both doors: a body is JSON declared as such, once (any other Content-Type,
    or none, is a 415; two are a 400), at most `max_bytes` (413), present (400), UTF-8 (400), one JSON document
    whose objects name each key once (400), and valid for the model (422)."""
    declared = request.header("content-type")
    if declared is not None and "," in declared:
        # Content-Type may be sent once (RFC 9110 §5.3); a door joins repeated fields with commas. gunicorn refuses a
        # repeated one before the Flask door sees it; API Gateway hands both to the Lambda door.
        raise MalformedRequest("Content-Type is given more than once")
    if declared is not None and not _is_json(declared):
        raise UnsupportedMediaType(_media_type(declared))
    body = request.body.read(max_bytes)
    if len(body) > max_bytes:
        raise PayloadTooLarge(max_bytes)
    if not body.strip():
        raise MalformedRequest("the request needs a JSON body")
    if declared is None:
        raise UnsupportedMediaType(None)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the request body is not valid UTF-8") from None
    _refuse_invalid_json(body)
    try:
        return model.model_validate_json(body)
    except ValidationError as error:
        if any(detail["type"] == "json_invalid" for detail in error.errors()):
            raise MalformedRequest("the request body is not valid JSON") from None
        if any(detail["type"] == "model_type" for detail in error.errors()):
            raise InvalidFields(field_errors(error, "body"), "the request body must be a JSON object") from None
        raise InvalidFields(field_errors(error, "body")) from None


def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def _is_json(content_type: str) -> bool:
    media_type = _media_type(content_type)
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


# jiter's message for a repeated key; a test pins it (tests/hostile/test_hostile_bodies.py), so that an upgrade that
# rewords it fails there rather than naming no key.
_DUPLICATE_KEY = re.compile(r'Detected duplicate key "(?P<key>.*)" at line \d+ column \d+', re.DOTALL)
_NAMED_KEY_MAX = 100  # characters of a repeated key the problem echoes


def _refuse_invalid_json(body: bytes) -> None:
    """Refuses a body that is not JSON, or whose objects name a key twice. JSON leaves a repeated key's meaning to
    each parser (RFC 8259 §4): one in front of this API (a WAF, a gateway's validator) may read the first value
    while this one keeps the last, so a repeated key is refused rather than resolved. jiter is the parser pydantic
    validates with, so the keys compared are the keys the model would read."""
    try:
        jiter.from_json(body, catch_duplicate_keys=True, cache_mode=False)
    except ValueError as error:
        duplicate = _DUPLICATE_KEY.fullmatch(str(error))
        if duplicate is None:
            raise MalformedRequest("the request body is not valid JSON") from None
        key = duplicate["key"]
        shown = key if len(key) <= _NAMED_KEY_MAX else key[:_NAMED_KEY_MAX] + "…"
        raise MalformedRequest(
            f'the key "{shown}" appears more than once in one object; send each key once', duplicate_key=shown
        ) from None


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
            [
                {
                    "field": "Idempotency-Key",
                    "in": "header",
                    "message": "1 to 255 visible ASCII characters",
                    "type": "idempotency_key",
                }
            ],
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
    return raw.strip()


def entity_tag(version: int) -> str:
    return f'"{version}"'
