"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

`python -m rest_contract.openapi > openapi.json` (or `make openapi`) refreshes the committed copy;
a test fails when the two differ.
"""

import json
import sys
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .operations import OPERATIONS, TAGS
from .parsing import DEFAULT_MAX_BODY_BYTES
from .problems import ALL_PROBLEM_TYPES, PROBLEM_JSON
from .routing import Operation

REF = "#/components/schemas/{model}"

INFO = {
    "title": "Student records API",
    "version": "1.0.0",
    "description": "One REST contract served by two front doors: AWS Lambda behind API Gateway, and Flask on EC2"
    " behind a load balancer. A deployed stack's doors are its outputs `ApiUrl` (API Gateway) and"
    " `FlaskUrl` (the load balancer); `make run` serves both on this machine, as `servers` lists."
    " Every error is an RFC 9457 problem document; request bodies are JSON, sent as such.",
    "contact": {"name": "The student records team, maintainers of this repository"},
}
# The doors as `make run` serves them (README, "Routes"); a deployed stack's URLs are named in `info`.
SERVERS = [
    {"url": "http://127.0.0.1:8000", "description": "Flask door, under `make run` (`PORT` moves it)"},
    {
        "url": "http://127.0.0.1:3000",
        "description": "Lambda door through the local API Gateway, under `make run` (`GATEWAY_PORT` moves it)",
    },
]

_PROBLEM_SCHEMA = {
    "type": "object",
    "description": "RFC 9457 problem details.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "enum": sorted(problem.uri for problem in ALL_PROBLEM_TYPES)},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Each bad field, for validation and conflict problems. Never echoes the value sent.",
            "items": {
                "type": "object",
                "required": ["field", "in", "message", "type"],
                "properties": {
                    "field": {"type": "string"},
                    "in": {"type": "string", "enum": ["body", "query", "path", "header"]},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
        "current_version": {"type": "integer", "description": "On 412: the record's version now."},
        "retry_after_ms": {
            "type": "integer",
            "minimum": 1,
            "description": "On service-unavailable 503: when to retry, in milliseconds (Retry-After gives it in whole"
            " seconds, rounded up); while the database is known to be unreachable, how often the"
            " service checks whether it is back.",
        },
        "checks": {"type": "object", "description": "On readiness 503: each check and its result."},
    },
}


def _models() -> list[type[BaseModel]]:
    found: set[type[BaseModel]] = set()
    for operation in OPERATIONS:
        found.update(operation.response_models)
        if operation.body_model is not None:
            found.add(operation.body_model)
    return sorted(found, key=lambda model: model.__name__)


def _parameters(operation: Operation) -> list[dict[str, Any]]:
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        }
        for name in _path_names(operation.path)
    ]
    if operation.query_model is not None:
        schema = operation.query_model.model_json_schema()
        for name, prop in schema["properties"].items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in schema.get("required", []),
                    "description": prop.get("description", ""),
                    "schema": _inline(prop, schema),
                }
            )
    if operation.accepts_idempotency_key:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "Makes the create safe to retry: a replay within 24 hours gets the first"
                " answer; the same key with another body is a 422.",
                "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
            }
        )
    if operation.method == "PATCH":
        parameters.append(
            {
                "name": "If-Match",
                "in": "header",
                "required": False,
                "description": "The ETag of the version the change is based on; 412 when stale.",
                "schema": {"type": "string", "pattern": '^(\\*|(W/)?"[1-9][0-9]{0,9}")$'},
            }
        )
    return parameters


def _inline(prop: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema, self-contained: $defs resolved in place, and no null alternative
    (a query string can leave a parameter out, but cannot send null)."""
    text = json.dumps(prop)
    for name, definition in schema.get("$defs", {}).items():
        text = text.replace(json.dumps({"$ref": f"#/$defs/{name}"}), json.dumps(definition))
    resolved: dict[str, Any] = json.loads(text)
    alternatives = [option for option in resolved.pop("anyOf", []) if option != {"type": "null"}]
    if len(alternatives) == 1:
        resolved.update(alternatives[0])
    if resolved.get("default", "") is None:
        del resolved["default"]
    return resolved


def _path_names(path: str) -> list[str]:
    return [segment[1:-1] for segment in path.split("/") if segment.startswith("{")]


# RFC 9110's reason phrases where they differ from RFC 7231's: Python took them in 3.13, and the document must not
# depend on the interpreter that wrote it.
_RFC_9110_PHRASES = {
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
}


def _reason_phrase(status: int) -> str:
    return _RFC_9110_PHRASES.get(status, HTTPStatus(status).phrase)


def _responses(operation: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": _reason_phrase(operation.success_status)}
    refs = [{"$ref": REF.format(model=model.__name__)} for model in operation.response_models]
    if refs:
        success["content"] = {"application/json": {"schema": refs[0] if len(refs) == 1 else {"anyOf": refs}}}
    if operation.success_status == 201:
        success["headers"] = {"Location": {"schema": {"type": "string"}}, "ETag": {"schema": {"type": "string"}}}
    responses = {str(operation.success_status): success}
    for status in (*operation.problem_statuses, 404, 405, 500):
        responses[str(status)] = {
            "description": _reason_phrase(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": REF.format(model="Problem")}}},
        }
    return dict(sorted(responses.items()))


def build_openapi() -> dict[str, Any]:
    _, schemas = models_json_schema([(model, "serialization") for model in _models()], ref_template=REF)
    components = {**schemas["$defs"], "Problem": _PROBLEM_SCHEMA}
    for model in (op.body_model for op in OPERATIONS if op.body_model is not None):
        # Request bodies are validated in input mode (e.g. defaults may be left out).
        components[model.__name__] = model.model_json_schema(ref_template=REF, mode="validation")
        components.update(components[model.__name__].pop("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        entry = {
            "operationId": operation.operation_id,
            "summary": operation.summary,
            "description": operation.description,
            "tags": [operation.tag],
            "parameters": _parameters(operation),
            "responses": _responses(operation),
        }
        if operation.body_model is not None:
            entry["requestBody"] = {
                "required": True,
                "description": f"JSON sent as `application/json` (or another `application/*+json` type), at most"
                f" {DEFAULT_MAX_BODY_BYTES} bytes, each key at most once per object.",
                "content": {"application/json": {"schema": {"$ref": REF.format(model=operation.body_model.__name__)}}},
            }
        if not entry["parameters"]:
            del entry["parameters"]
        entry["security"] = [] if operation.public else [{"bearerAuth": []}]
        paths.setdefault(operation.path, {})[operation.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": INFO,
        "servers": SERVERS,
        "tags": [{"name": name, "description": description} for name, description in TAGS.items()],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A Cognito ID or access token; the role comes from cognito:groups"
                    " (admin, registrar, teacher, student).",
                }
            },
        },
    }


def render() -> str:
    return json.dumps(build_openapi(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
