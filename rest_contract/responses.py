"""The responses endpoints give: a model as JSON; a record with a version carries it as its ETag, and one just
created says where it is (Location)."""

from pydantic import BaseModel

from .http import JSON, ApiResponse
from .parsing import entity_tag


def json_body(status: int, payload: BaseModel, location: str | None = None) -> ApiResponse:
    """`payload` as JSON; when it has a version (a record that can change), that version as its ETag. `location`:
    where a record just created is."""
    headers = {}
    version = getattr(payload, "version", None)
    if isinstance(version, int):
        headers["ETag"] = entity_tag(version)
    if location is not None:
        headers["Location"] = location
    return ApiResponse(status, payload.model_dump_json().encode(), JSON, headers)
