"""The route table: every operation of the API, declared once, by resource (routes/), in the order openapi.json
documents them. Both doors register exactly these, and the OpenAPI document is generated from them."""

import re

from .errors import MethodNotAllowed, RouteNotFound
from .routes import audit, catalogue, enrollments, health, students, transcripts
from .routing import Operation

# Literal paths before templated ones within a resource (/students/count is not a student id).
OPERATIONS: tuple[Operation, ...] = (
    *health.OPERATIONS,
    *students.OPERATIONS,
    *audit.OPERATIONS,
    *catalogue.OPERATIONS,
    *enrollments.OPERATIONS,
    *transcripts.OPERATIONS,
)
# Each tag the operations name, with what it groups (openapi.json declares them, in this order).
TAGS: dict[str, str] = {
    **health.TAGS,
    **students.TAGS,
    **audit.TAGS,
    **catalogue.TAGS,
    **enrollments.TAGS,
    **transcripts.TAGS,
}

_PATTERNS = [(re.compile("^" + re.sub(r"\{\w+\}", r"[^/]+", op.path) + "$"), op) for op in OPERATIONS]


def unmatched_route(method: str, path: str) -> Exception:
    """What a request that no operation matches gets: 405 when the path exists with other methods, else 404."""
    allowed = sorted({op.method for pattern, op in _PATTERNS if pattern.match(path)})
    if allowed:
        return MethodNotAllowed(method, allowed)
    return RouteNotFound("no route matches this path")
