"""Opaque keyset cursors: where the next page starts, bound to the filters that made the page."""

import base64
import binascii
import hashlib
import json

from .errors import InvalidCursor

_VERSION = 1


def _filters_fingerprint(filters: tuple[str | None, ...]) -> str:
    # A digest rather than the filters themselves: a search prefix may be personal data, and
    # cursors travel in URLs and access logs.
    return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:12]


def encode_cursor(after_id: int, filters: tuple[str | None, ...]) -> str:
    payload = {"v": _VERSION, "after": after_id, "f": _filters_fingerprint(filters)}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, filters: tuple[str | None, ...]) -> int:
    """The id the next page starts after; InvalidCursor for anything this API did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidCursor("the cursor is not one this API issued") from None
    if not isinstance(payload, dict) or payload.get("v") != _VERSION:
        raise InvalidCursor("the cursor is not one this API issued")
    after = payload.get("after")
    if type(after) is not int or not 0 <= after < 2**63:
        raise InvalidCursor("the cursor is not one this API issued")
    if payload.get("f") != _filters_fingerprint(filters):
        raise InvalidCursor("the cursor was issued for other filters; keep status and q unchanged while paging")
    return after
