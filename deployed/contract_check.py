"""Whether a reply keeps the committed OpenAPI document: its status is documented for the operation, its
media type as documented, its body valid against the schema. The contract suite (tests/doors.py) and the
end-to-end suite (deployed/e2e.py) both judge replies with it."""

import json
import re
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "openapi.json"


@cache
def openapi() -> dict:
    return json.loads(OPENAPI_PATH.read_text())


def documented_operation(method: str, path: str) -> dict | None:
    """The operation a request path goes to (literal paths come before templated ones in the document)."""
    for template, operations in openapi()["paths"].items():
        pattern = "^" + re.sub(r"\{\w+\}", "[^/]+", template) + "/?$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]
    return None


def reply_mismatch(method: str, path: str, status: int, content_type: str, body: bytes) -> str | None:
    """What in the reply breaks the document, or None. `path` has no query string."""
    operation = documented_operation(method, path)
    if operation is None:
        return None if status in (404, 405) else f"{method} {path} is not in openapi.json"
    documented = operation["responses"].get(str(status))
    if not documented:
        return f"{method} {path} answered {status}, not documented for {operation['operationId']}"
    content = documented.get("content")
    if not content:
        return None if body == b"" else f"{status} should have no body"
    media_type = content_type.split(";")[0]
    if media_type not in content:
        return f"{media_type} not documented for {status}"
    try:
        document = json.loads(body)
    except ValueError:
        return f"{method} {path} -> {status}: the body is not JSON"
    schema = {**content[media_type]["schema"], "components": openapi()["components"]}
    errors = sorted(Draft202012Validator(schema).iter_errors(document), key=str)
    return f"{method} {path} -> {status}: {errors[0].message}" if errors else None
