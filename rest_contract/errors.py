"""Errors in the request itself, before the domain sees it."""


class RequestError(Exception):
    """Base: the request could not be turned into a domain call."""


class MalformedRequest(RequestError):
    """Not parseable at all: broken JSON, a key repeated, not UTF-8, a body that does not decode, a missing body."""

    def __init__(self, detail: str, *, duplicate_key: str | None = None) -> None:
        super().__init__(detail)
        self.duplicate_key = duplicate_key  # the JSON key an object of the body repeats, when that is the fault


class PayloadTooLarge(RequestError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the request body exceeds {limit} bytes")
        self.limit = limit


class UnsupportedMediaType(RequestError):
    def __init__(self, media_type: str | None) -> None:
        sent = f"not as {media_type}" if media_type is not None else "the request named no Content-Type"
        super().__init__(f"send the body as application/json (Content-Type: application/json), {sent}")


class InvalidFields(RequestError):
    """Parseable, but some fields are wrong; `errors` names each one."""

    def __init__(self, errors: list[dict[str, str]], detail: str = "one or more fields are invalid") -> None:
        super().__init__(detail)
        self.errors = errors


class RouteNotFound(RequestError):
    pass


class MethodNotAllowed(RequestError):
    def __init__(self, method: str, allowed: list[str]) -> None:
        super().__init__(f"{method} is not allowed here; allowed: {', '.join(allowed)}")
        self.allowed = allowed
