"""One kind of object an export carries: how it is read from the store, checked, and written into another.

A section is a value, not a class to subclass: its item model (pydantic) is the whole of what is checked before
anything is written, its key says which objects are the same (import skips what the store already holds, so
importing a file twice adds nothing the second time), and ``dump``/``present``/``write`` work inside the caller's
transaction. :mod:`inbox.transfer.registry` lists the sections an export holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    Strict,
    ValidationError,
    model_serializer,
)
from sqlmodel import Session

from inbox import validation as check
from inbox.errors import InvalidInput
from inbox.task_fields import invalid_input

_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")


class Item(BaseModel):
    """One exported object: unknown fields and values of the wrong type are refused, never guessed."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Content(BaseModel):
    """A row's ``content`` object: the keys a section knows are checked; others (a newer release may add some)
    are kept as they are, provided they are JSON. Keys without a value are left out of the file."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    @model_serializer(mode="wrap")
    def _without_nulls(self, default: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in default(self).items() if value is not None}


def _ulid(value: str) -> str:
    if not _ULID.fullmatch(value):
        raise InvalidInput("id", f"{value!r} is not an id (26 characters: digits and capitals, no I L O U)")
    return value


def _author(value: str) -> str:
    check.storable(value, field="created_by")
    if not value.strip() or len(value) > 200:
        raise InvalidInput("created_by", f"{value!r} must be 1-200 characters")
    return value


def _reason(value: str) -> str:
    check.storable(value, field="reason")
    if len(value) > 2000:
        raise InvalidInput("reason", "must be at most 2000 characters")
    return value


# An instant is ISO 8601 text with an offset in the file ("2026-06-01T09:00:00+00:00"), as the listings print it.
Instant = Annotated[AwareDatetime, Strict(False), PlainSerializer(lambda value: value.isoformat(), when_used="json")]
Id = Annotated[str, AfterValidator(_ulid)]
Author = Annotated[str, AfterValidator(_author)]
Reason = Annotated[str, AfterValidator(_reason)]
SessionName = Annotated[str, AfterValidator(check.session_name)]

ItemT = TypeVar("ItemT", bound=Item)


@dataclass(frozen=True)
class Section(Generic[ItemT]):
    name: str  # the key of its list in the document
    item: type[ItemT]
    dump: Callable[[Session], Sequence[ItemT]]
    key: Callable[[ItemT], str]  # the same key means the same object
    present: Callable[[Session, Sequence[str]], set[str]]  # which of these keys the store holds already
    write: Callable[[Session, Sequence[ItemT], datetime], None]

    def check(self, raw: Any, index: int) -> ItemT:
        """``raw`` as an item, or :class:`InvalidInput` naming the field as ``tasks[3].timezone``."""
        where = f"{self.name}[{index}]"
        if not isinstance(raw, dict):
            raise InvalidInput(where, f"must be an object, not {type(raw).__name__}")
        try:
            return self.item.model_validate(raw)
        except ValidationError as invalid:
            first = invalid.errors()[0]
            inside = ".".join(str(part) for part in first["loc"])
            raise InvalidInput(f"{where}.{inside}" if inside else where, invalid_input([first]).reason) from None


def chunks(values: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    """``IN`` lists of bounded length (SQLite allows a limited number of bound parameters)."""
    return [values[start : start + size] for start in range(0, len(values), size)]
