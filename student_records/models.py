"""What the models of every resource share: the base model, one configuration per direction (bodies clients send,
patches, query strings, records sent back), the page query and the page, and value types several resources use."""

import types
import typing
from datetime import date
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_RECORD_ID = 2**63 - 1  # PostgreSQL bigint

# Control characters (NUL above all, which PostgreSQL text cannot hold) have no place in a name or a search.
PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
RecordId = Annotated[int, Field(ge=1, le=MAX_RECORD_ID)]
Version = Annotated[int, Field(ge=1, description="The version the change is based on.")]


def _written_as_iso_date(value: object) -> object:
    # pydantic also reads a number of seconds written as text as a date ("0" is 1970-01-01, "86400" the next
    # day): in JSON and CSV, only YYYY-MM-DD names a date. Text is parsed here (or refused); a value that is not
    # text goes on to pydantic's own checks (strict: it refuses numbers). fromisoformat also reads YYYYMMDD and
    # week dates (YYYY-Www-D), and no other digits than ASCII: only ten characters with hyphens after the year
    # and the month reach it (a regex costs twice as much, on every date of a bulk import).
    if not isinstance(value, str):
        return value
    if len(value) == 10 and value[4] == value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError("must be a calendar date written YYYY-MM-DD")


# On every date a client sends, after its other constraints (which then stay in the JSON schema as they were).
WRITTEN_AS_ISO_DATE = BeforeValidator(_written_as_iso_date)


class Model(BaseModel):
    """Validators and serializers are built at a model's first use, not at import: a Lambda cold start then
    builds only the models its first request needs (pydantic builds under a lock, so threads may race to it)."""

    model_config = ConfigDict(defer_build=True)


class Input(Model):
    """A request body. Strict: JSON gives no reason to turn 42 into "42" or a number of seconds into a date."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _patch_schema(schema: dict[str, Any]) -> None:
    """A patch names at least one field; a field that cannot be null documents no null default."""
    schema["minProperties"] = 1
    for field in schema["properties"].values():
        if "default" in field and field["default"] is None and "anyOf" not in field:
            del field["default"]


class Patch(Input):
    """A partial update: only the fields present are changed. A field left out keeps its value (hence the None
    defaults); only a field whose type allows null may be set to null, since null would erase a required value."""

    model_config = ConfigDict(json_schema_extra=_patch_schema)
    _never_null: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._never_null = frozenset(
            name
            for name, field in cls.model_fields.items()
            if field.default is None and not _admits_none(field.annotation)
        )

    @field_validator("*", mode="before")
    @classmethod
    def _present(cls, value: object, info: Any) -> object:
        if value is None and info.field_name in cls._never_null:
            raise ValueError("may be left out, but not set to null")
        return value

    def changes(self) -> dict[str, object]:
        """The fields the client set, version aside."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "version"}


def _admits_none(annotation: object) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in typing.get_args(
        annotation
    )


class QueryParameters(Model):
    """A query string. Not strict: its values are text, and lax mode turns "50" into 50."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class PageQuery(QueryParameters):
    limit: int = Field(default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    cursor: str | None = Field(
        default=None, min_length=1, max_length=200, description="next_cursor of the previous page, as given."
    )


class Output(Model):
    """A record sent back."""

    model_config = ConfigDict(frozen=True)


Item = TypeVar("Item", bound=BaseModel)


class Page(Model, Generic[Item]):
    """One page of a keyset-paginated list, by id; a subclass names it (`class CoursePage(Page[Course])`)."""

    items: list[Item]
    next_cursor: str | None
