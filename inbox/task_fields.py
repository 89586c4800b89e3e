"""The fields of a task, declared once: :class:`NewTask` (a task to schedule) and :class:`TaskChange` (a change).

One model serves every way in: the HTTP API takes it as its request body, the Python API and the CLI build it from
their arguments, and the agent's ``schedule_task``/``update_task`` tools show the model its JSON schema
(:func:`tool_model` derives their slightly different shape: ``timezone`` for ``tz``, ``at`` also taking a duration).
Each field's validator raises :class:`~inbox.errors.InvalidInput` naming the field as the caller spelled it
(``in``, ``timezone``); :func:`validated` turns pydantic's errors into that one exception.

What needs the task's zone or the clock (an ``at`` in the past, an ``in`` beyond year 9999) is checked when the
task is made (:meth:`inbox.api.Inbox.schedule`); everything else is checked here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator
from pydantic_core import ErrorDetails

from inbox import validation as check
from inbox.channels import deliver_choice
from inbox.errors import InvalidInput
from inbox.event_names import check_patterns
from inbox.schedules import load_zone, parse_cron, parse_duration, parse_every
from inbox.schedules.active_hours import normalized as window_of
from inbox.task_help import FIELD_HELP as _D

M = TypeVar("M", bound=BaseModel)
SCHEDULES = ("cron", "every", "at", "in_")  # a new task has exactly one; a change at most one (no in)
ONE_SHOTS = ("at", "in_")  # a time that passes once: never beside ``on`` or ``after``, which start runs again and again
_DURATION = re.compile(r"(?:\d+[smhdw])+")


def _keep(check_value: Any) -> AfterValidator:
    """A validator that checks the value and keeps it as given (the parse result is made again when used)."""

    def run(value: str) -> str:
        check_value(value)
        return value

    return AfterValidator(run)


def _instant_or_duration(value: str) -> str:
    if is_duration(value):
        parse_duration(value, field="at")
    return check.storable(value, field="at")


def is_duration(value: str) -> bool:
    """``2h``, ``1h30m``: a duration from now rather than an ISO 8601 instant."""
    return _DURATION.fullmatch(value.strip().lower().replace(" ", "")) is not None


Prompt = Annotated[str, AfterValidator(lambda v: check.text(v, field="prompt"))]
Cron = Annotated[str, _keep(parse_cron)]
Every = Annotated[str, _keep(parse_every)]
Instant = Annotated[str, AfterValidator(lambda v: check.storable(v, field="at"))]
InstantOrDuration = Annotated[str, AfterValidator(_instant_or_duration)]
Duration = Annotated[str, _keep(lambda v: parse_duration(v, field="in"))]
Timeout = Annotated[str, _keep(lambda v: parse_duration(v, field="timeout"))]
Zone = Annotated[str, _keep(lambda v: load_zone(v, field="tz"))]
SessionName = Annotated[str, AfterValidator(check.session_name)]
Script = Annotated[str, AfterValidator(check.script)]
MaxRuns = Annotated[int, AfterValidator(lambda v: check.positive_int(v, field="max_runs", maximum=check.MAX_RUNS))]
Retries = Annotated[int, AfterValidator(check.retries)]
ModelName = Annotated[str, AfterValidator(check.model_name)]
Patterns = Annotated[list[str], AfterValidator(lambda v: check_patterns(v, field="on"))]
# A change's ``on``: [] removes every pattern (the task keeps its cron or every)
NewPatterns = Annotated[list[str], AfterValidator(lambda v: check_patterns(v, field="on") if v else [])]
Upstreams = Annotated[list[str], AfterValidator(check.upstreams)]
NewUpstreams = Annotated[list[str], AfterValidator(lambda v: check.upstreams(v, allow_none=True))]  # []: none
WhenRule = Literal["all_success", "all_done", "any_success"]
Tags = Annotated[list[str], AfterValidator(check.tags)]
Priority = Annotated[int, AfterValidator(check.priority)]
Deliver = Annotated[str, AfterValidator(lambda v: deliver_choice(v))]
DeliverChange = Annotated[str, AfterValidator(lambda v: deliver_choice(v) if v.strip() else "")]
Window = Annotated[str, AfterValidator(lambda v: window_of(v))]
WindowChange = Annotated[str, AfterValidator(lambda v: window_of(v) if v.strip() else "")]
_KIND = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


def _kind_name(value: str) -> str:
    if not _KIND.fullmatch(value):
        raise InvalidInput("do", f"{value!r} is not a kind's name (agent, remind, http, command or a worker's)")
    return value


Kind = Annotated[str, AfterValidator(_kind_name)]


class _Fields(BaseModel):
    # strict: a value of the wrong type is refused, never guessed into another ("3" is not 3)
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NewTask(_Fields):
    """A task to schedule: ``prompt`` and exactly one of ``cron``, ``every``, ``at``, ``in``; or ``on`` or
    ``after`` (or both), alone or beside one of ``cron`` and ``every``."""

    prompt: Prompt = Field(description=_D["prompt"])
    cron: Cron | None = Field(default=None, description=_D["cron"])
    every: Every | None = Field(default=None, description=_D["every"])
    at: Instant | None = Field(default=None, description=_D["at"])
    in_: Duration | None = Field(default=None, alias="in", description=_D["in"])
    on: Patterns | None = Field(default=None, description=_D["on"])
    after: Upstreams | None = Field(default=None, description=_D["after"])
    when: WhenRule | None = Field(default=None, description=_D["when"])
    tz: Zone | None = Field(default=None, description=_D["tz"])
    session: SessionName = Field(default="main", description=_D["session"])
    name: Annotated[str, AfterValidator(check.name)] | None = Field(default=None, description=_D["name"])
    script: Script | None = Field(default=None, description=_D["script"])
    context: Literal["session", "series", "fresh"] | None = Field(default=None, description=_D["context"])
    catch_up: Literal["once", "skip", "all"] = Field(default="once", description=_D["catch_up"])
    max_runs: MaxRuns | None = Field(default=None, description=_D["max_runs"], json_schema_extra={"minimum": 1})
    timeout: Timeout | None = Field(default=None, description=_D["timeout"])
    retries: Retries = Field(default=3, description=_D["retries"], json_schema_extra={"minimum": 0})
    remind: bool = Field(default=False, description=_D["remind"])
    model: ModelName | None = Field(default=None, description=_D["model"])
    provider: Literal["anthropic", "openai"] | None = Field(default=None, description=_D["provider"])
    deliver: Deliver | None = Field(default=None, description=_D["deliver"])
    tags: Tags | None = Field(default=None, description=_D["tags"])
    priority: Priority = Field(default=0, description=_D["priority"], json_schema_extra={"minimum": -10, "maximum": 10})
    do: Kind | None = Field(default=None, description=_D["do"])
    with_: dict[str, Any] | None = Field(default=None, alias="with", description=_D["with"])
    active_hours: Window | None = Field(default=None, description=_D["active_hours"])

    _whole = model_validator(mode="after")(lambda task: _exactly_one_schedule(_one_kind(_window_recurs(task))))


class TaskChange(_Fields):
    """A change of a task: any of these; a new schedule (at most one of ``cron``, ``every``, ``at``) replaces it."""

    prompt: Prompt | None = Field(default=None, description=_D["prompt"])
    cron: Cron | None = Field(default=None, description=_D["cron"])
    every: Every | None = Field(default=None, description=_D["every"])
    at: Instant | None = Field(default=None, description=_D["at"])
    on: NewPatterns | None = Field(
        default=None, description=_D["on"] + " Replaces the task's patterns; [] removes them."
    )
    after: NewUpstreams | None = Field(
        default=None, description=_D["after"] + " Replaces the task's upstreams; [] removes them."
    )
    when: WhenRule | None = Field(default=None, description=_D["when"])
    tz: Zone | None = Field(default=None, description=_D["tz"])
    script: Script | None = Field(default=None, description=_D["script"] + ' "" removes it.')
    # "" (or blank) removes the name, so it is kept as "" rather than read as "not given"
    name: Annotated[str, AfterValidator(lambda v: check.name(v) or "")] | None = Field(
        default=None, description=_D["name"] + ' "" removes it.'
    )
    deliver: DeliverChange | None = Field(
        default=None, description=_D["deliver"] + ' "" goes back to its session\'s channel.'
    )
    tags: Tags | None = Field(default=None, description=_D["tags"] + " Replaces the task's tags; [] removes them.")
    priority: Priority | None = Field(
        default=None, description=_D["priority"], json_schema_extra={"minimum": -10, "maximum": 10}
    )
    active_hours: WindowChange | None = Field(
        default=None, description=_D["active_hours"] + ' "" removes it (its session\'s window applies again).'
    )
    do: Kind | None = Field(default=None, description=_D["do"] + " Checked with `with` as when a task is made.")
    with_: dict[str, Any] | None = Field(
        default=None, alias="with", description=_D["with"] + " Replaces the task's; checked by its (new) kind."
    )

    _whole = model_validator(mode="after")(lambda change: _a_change(change))


def _one_kind(task: M) -> M:
    """``remind`` is the ``remind`` kind: beside another ``do`` it would say two things."""
    do = getattr(task, "do", None)
    if getattr(task, "remind", False) and do not in (None, "remind"):
        raise InvalidInput(
            "do", f"{do} cannot be combined with remind (remind is the kind remind)", mentions=("remind",)
        )
    return task


def _window_recurs(task: M) -> M:
    """Active hours hold back occurrences that come again; a one-shot runs at the one time it was given."""
    once = [spelled(type(task), name) for name in schedules_given(task) if name in ONE_SHOTS]
    if getattr(task, "active_hours", None) and once:
        raise InvalidInput(
            "active_hours",
            f"is for tasks that run again and again (cron, every, on, after); a one-shot ({once[0]}) runs at its time",
            mentions=(once[0],),
        )
    return task


def _exactly_one_schedule(task: M) -> M:
    given = schedules_given(task)
    if getattr(task, "when", None) is not None and not getattr(task, "after", None):
        raise InvalidInput("when", "is only for a task with after (the tasks it waits for)", mentions=("after",))
    if getattr(task, "on", None) or getattr(task, "after", None):
        _beside_triggers(task, given)
        if len(given) > 1:
            raise choice_error(task, "give at most one of {} (got {})", given)
        if not given and getattr(task, "max_runs", None) is not None:
            raise InvalidInput(
                "max_runs",
                "counts the runs of a time schedule (cron, every); a task started only by events (on) or by other "
                "tasks (after) runs until it is cancelled",
                mentions=("cron", "every", "on", "after"),
            )
        return task
    if len(given) != 1:
        error = choice_error(task, "give exactly one of {}, or on or after (got {})", given)
        raise InvalidInput(error.field, error.reason, mentions=(*error.mentions, "on", "after"))
    return task


def _beside_triggers(task: BaseModel, given: list[str]) -> None:
    """``on`` and ``after`` start runs for as long as the task lives; a one-shot time would end it after one run."""
    once = [spelled(type(task), name) for name in given if name in ONE_SHOTS]
    if not once:
        return
    field, what = ("on", "on every matching event") if getattr(task, "on", None) else ("after", "after its tasks")
    raise InvalidInput(
        field,
        f"cannot be combined with {once[0]} (a one-shot time): a task with {field} runs {what} again and again; "
        "give a recurring time (cron, every) beside it, or no time at all",
        mentions=(*once, "cron", "every"),
    )


def _a_change(change: M) -> M:
    """At most one new schedule, and something to change (a tool's ``task_id`` and ``session`` say which task
    changes, not how)."""
    given = schedules_given(change)
    if getattr(change, "on", None) or getattr(change, "after", None):
        _beside_triggers(change, given)
    if len(given) > 1:
        raise choice_error(change, "give at most one of {} (got {})", given)
    names = [name for name in type(change).model_fields if name in TaskChange.model_fields]
    if all(getattr(change, name) is None for name in names):
        spellings = [spelled(type(change), name) for name in names]
        raise InvalidInput("update", f"nothing to change; give {_listed(spellings, 'or')}", mentions=spellings)
    return change


def schedules_given(task: BaseModel) -> list[str]:
    return [name for name in SCHEDULES if name in type(task).model_fields and getattr(task, name) is not None]


def spelled(model: type[BaseModel], name: str) -> str:
    """A field as its callers spell it: its alias (``in``, ``timezone``) or its name."""
    return model.model_fields[name].alias or name


def _listed(names: list[str], last: str) -> str:
    return ", ".join(names[:-1]) + f" {last} {names[-1]}" if len(names) > 1 else "".join(names)


def choice_error(task: BaseModel, template: str, given: list[str]) -> InvalidInput:
    model = type(task)
    options = [spelled(model, name) for name in SCHEDULES if name in model.model_fields]
    got = [spelled(model, name) for name in given]
    return InvalidInput("schedule", template.format(", ".join(options), ", ".join(got) or "none"), mentions=options)


def tool_model(
    base: type[_Fields], name: str, keep: tuple[str, ...], *, rename: Mapping[str, str], extra: Mapping[str, Any]
) -> type[_Fields]:
    """``base`` as a tool shows it: only the fields in ``keep``, some under another name (``rename``: field to
    alias), with ``at`` also taking a duration, and ``extra`` fields first. Validators and descriptions are
    ``base``'s own, so the tool and the API cannot drift apart."""
    fields: dict[str, Any] = dict(extra)
    for field in keep:
        info = base.model_fields[field]
        annotation: Any = info.annotation
        options: dict[str, Any] = {"default": info.default, "description": info.description}
        if info.json_schema_extra:
            options["json_schema_extra"] = info.json_schema_extra
        if field == "at":
            annotation = InstantOrDuration | None
            options["description"] = f"{info.description} Or a duration from now: 2h, 1d."
        elif info.metadata:
            annotation = Annotated[annotation, *info.metadata]  # the validators Annotated carried
        if field in rename:
            options["alias"] = rename[field]
        fields[field] = (annotation, Field(**options))
    whole = base.__pydantic_decorators__.model_validators.values()  # the checks of several fields together
    validators: dict[str, Any] = {d.cls_var_name: model_validator(mode="after")(d.func) for d in whole}
    made: type[_Fields] = create_model(name, __base__=_Fields, __validators__=validators, **fields)
    return made


def validated(model: type[M], data: Mapping[str, Any], *, by_name: bool = False) -> M:
    """``data`` as ``model``, or the first problem as :class:`InvalidInput` naming the field as given."""
    try:
        return model.model_validate(data, by_name=by_name or None)
    except ValidationError as exc:
        errors = exc.errors()
        for error in errors[:1]:  # given by name ("in_"), a field is still called what its callers call it ("in")
            if error["loc"] and str(error["loc"][0]) in model.model_fields:
                error["loc"] = (spelled(model, str(error["loc"][0])), *error["loc"][1:])
        raise invalid_input(errors) from None


_REASONS = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "string_type": "must be a string, not {input!r}",
    "int_type": "must be an integer, not {input!r}",
    "bool_type": "must be a boolean, not {input!r}",
    "literal_error": "{input!r} is not one of {choices}",
}


def invalid_input(errors: list[ErrorDetails] | list[Any]) -> InvalidInput:
    """The first of pydantic's errors as :class:`InvalidInput`: a field's own check comes back as it was
    raised, under the name the caller used (its location); the rest get a reason in the same words."""
    first: Mapping[str, Any] = dict(errors[0]) if errors else {}
    loc = [str(part) for part in first.get("loc", ())]
    raised = (first.get("ctx") or {}).get("error")
    if isinstance(raised, InvalidInput):
        return InvalidInput(loc[-1] if loc else raised.field, raised.reason, mentions=raised.mentions)
    field = ".".join(loc) or "body"
    template = _REASONS.get(first.get("type", ""))
    if template is None:
        return InvalidInput(field, str(first.get("msg", "is invalid")))
    expected = str((first.get("ctx") or {}).get("expected", "")).replace("'", "")
    choices = expected.replace(" or ", ", ")
    return InvalidInput(field, template.format(input=first.get("input"), choices=choices))
