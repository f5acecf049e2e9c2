"""Keyset pages and their cursors.

A page lists records by id after the id its cursor names (no OFFSET: every page costs the same), and is fetched one
row longer than asked: that row tells whether another page exists, without a count. The cursor of the next page is
opaque to clients: the id it starts after and a digest of the filters that made the page (so that it cannot be
replayed with other filters), signed with HMAC-SHA256 under the deployment's key (CURSOR_SIGNING_KEY), so that a
cursor this API did not issue, forged or edited, is refused.
"""

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .errors import InvalidCursor
from .models import Page, PageQuery

Filters = tuple[str | None, ...]  # what the page is of: its resource, then each filter's value (None when not used)
_VERSION = 2  # 1 was unsigned: such a cursor is now refused like any other this API did not issue
_SIGNATURE_BYTES = 16  # a truncated HMAC-SHA256: 128 bits are beyond guessing, and keep the cursor short
_NOT_ISSUED = "the cursor is not one this API issued"


class _Keyed(Protocol):
    @property
    def id(self) -> int: ...


Row = TypeVar("Row", bound=_Keyed)
PageOf = TypeVar("PageOf", bound=Page[Any])


@dataclass(frozen=True)
class Pager:
    signing_key: bytes = field(repr=False)

    def page(
        self, page_type: type[PageOf], query: PageQuery, filters: Filters, fetch: Callable[[int, int], Sequence[Row]]
    ) -> PageOf:
        """The page `query` asks for: `fetch(after_id, limit)` reads the rows."""
        after_id = self.start(query.cursor, filters) if query.cursor else 0
        rows = fetch(after_id, query.limit + 1)
        items = list(rows[: query.limit])
        next_cursor = self.cursor(items[-1].id, filters) if len(rows) > query.limit else None
        return page_type(items=items, next_cursor=next_cursor)

    def cursor(self, after_id: int, filters: Filters) -> str:
        payload = _encoded(
            json.dumps({"v": _VERSION, "after": after_id, "f": _fingerprint(filters)}, separators=(",", ":")).encode()
        )
        return f"{payload}.{_encoded(self._signature(payload))}"

    def start(self, cursor: str, filters: Filters) -> int:
        """The id the page starts after; InvalidCursor for anything this API did not issue, or issued for other
        filters."""
        payload, _, signature = cursor.partition(".")
        try:
            signed = hmac.compare_digest(_decoded(signature), self._signature(payload))
            content = json.loads(_decoded(payload)) if signed else None
        except (binascii.Error, ValueError):
            raise InvalidCursor(_NOT_ISSUED) from None
        if not isinstance(content, dict) or content.get("v") != _VERSION:
            raise InvalidCursor(_NOT_ISSUED)
        after = content.get("after")
        if type(after) is not int or not 0 <= after < 2**63:
            raise InvalidCursor(_NOT_ISSUED)
        if content.get("f") != _fingerprint(filters):
            raise InvalidCursor("the cursor was issued for other filters; keep the filters unchanged while paging")
        return after

    def _signature(self, payload: str) -> bytes:
        return hmac.new(self.signing_key, payload.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _fingerprint(filters: Filters) -> str:
    # A digest rather than the filters themselves: a search prefix may be personal data, and cursors travel in URLs
    # and access logs.
    return hashlib.sha256(json.dumps(filters).encode()).hexdigest()[:12]


def _encoded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decoded(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
