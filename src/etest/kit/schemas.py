"""Base Pydantic models: request bodies reject unknown fields; responses read ORM attributes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

T = TypeVar("T")


def _utc(value: datetime) -> datetime:
    # A bound without a zone is read as UTC (every time of the API is UTC).
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC time
        raise ValueError("the time lies outside the representable range") from None


#: An ISO 8601 time in a query; naive means UTC, ``2026-01-31`` means its midnight UTC.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]

#: An organization's code (UIC), as a body field, a query or a path carries it.
Uic = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class Input(BaseModel):
    """A request body: an unknown field is an error, so scope can never arrive by a stray key."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # PostgreSQL cannot store NUL in text and SQLite would store it silently: refuse it
        # everywhere, so both databases behave alike.
        items = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in items):
            raise ValueError("text must not contain NUL characters")
        return value


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable(**constraints: Any) -> Any:
    """A PATCH field that may be omitted (it keeps its value) but not null, typed as its
    non-nullable type (``name: str = omittable(max_length=300)``): ``null`` is then a 422 naming
    the field instead of reaching a NOT NULL column or a merge. The schema shows no default."""
    return Field(None, json_schema_extra=_drop_default, **constraints)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


#: The pattern of free-text query parameters: no control characters (NUL included).
TEXT_QUERY = r"^[^\x00-\x1f]*$"
