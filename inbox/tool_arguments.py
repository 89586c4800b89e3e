"""A task's fields as tools take them: the agent's tools (sweeper/http/tool_specs.py) and the MCP server's
(inbox/mcp/). Both derive their argument models from :mod:`inbox.task_fields` with
:func:`~inbox.task_fields.tool_model`; this module holds what they then share: the schema a caller is shown,
the reading of ``at`` (an instant, or a duration from now), and a refusal in the tools' own argument names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from inbox.api import whole_second
from inbox.errors import InvalidInput
from inbox.schedules import parse_duration
from inbox.task_fields import is_duration, spelled, validated

# the Python API's field names -> the tools' argument names ("update": a change that changes nothing)
_AS_ARGUMENT = {"tz": "timezone", "in": "at", "id": "task_id", "update": "task_id"}


class UnknownArgument(InvalidInput):
    """An argument the tool does not take, named as the caller spelled it (never renamed by :func:`refusal`)."""

    def __init__(self, tool: str, given: str, known: list[str]) -> None:
        super().__init__(given, f"is not an argument of {tool} (it takes: {', '.join(known) or 'none'})")


def shown_schema(schema: Any) -> Any:
    """A JSON schema as a model reads it best: no titles, an optional value as its own type (null, like a
    missing argument, means "not given"), no null defaults."""
    if isinstance(schema, list):
        return [shown_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    options = [option for option in schema.get("anyOf", []) if option != {"type": "null"}]
    if "anyOf" in schema and len(options) == 1:
        schema = {**{k: v for k, v in schema.items() if k != "anyOf"}, **options[0]}
    hidden = {"title"} | ({"default"} if schema.get("default", 0) is None else set())
    return {key: shown_schema(value) for key, value in schema.items() if key not in hidden}


def arguments_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema a tool with argument model ``model`` shows, under the arguments' own names."""
    shown: dict[str, Any] = shown_schema(model.model_json_schema(by_alias=True))
    return shown


def checked_arguments(tool: str, model: type[BaseModel], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` checked by ``model``, by the fields' Python names, with their defaults; ``null`` counts as not
    given, and a field that is ``None`` is left out.

    An unknown argument is refused with the list of the tool's arguments, so a caller can correct it at once."""
    known = [spelled(model, name) for name in model.model_fields]
    for key in given:
        if key not in known:
            raise UnknownArgument(tool, key, known)
    args = {key: value for key, value in given.items() if value is not None}
    return validated(model, args).model_dump(exclude_none=True)


def at_or_in(at: str) -> tuple[str | None, str | None]:
    """A tool's ``at`` as the Python API's (``at``, ``in_``): an ISO 8601 instant, or a duration from now."""
    return (None, at) if is_duration(at) else (at, None)


def at_instant(at: str, *, now: datetime, zone: ZoneInfo) -> str:
    """A tool's ``at`` as ISO 8601 in ``zone``: a duration from now becomes the whole second it ends on."""
    if not is_duration(at):
        return at
    return whole_second(now + parse_duration(at, field="at")).astimezone(zone).isoformat()


def refusal(exc: InvalidInput) -> str:
    """``<argument>: <reason>``: the field named as the tools' arguments are (``timezone``, not ``tz``)."""
    field = exc.field if isinstance(exc, UnknownArgument) else _AS_ARGUMENT.get(exc.field, exc.field)
    return f"{field}: {exc.reason}" + (", or a duration from now such as 2h" if "ISO 8601" in exc.reason else "")
