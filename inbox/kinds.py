"""What an occurrence does (``do``) and with what (``with``): the built-in kinds and the registered workers.

``agent`` asks the model (the task's text is the prompt), ``remind`` delivers the text as is, ``http`` makes one
request (done by the host, docs/kinds.md says why), ``command`` runs a program in the runner's sandbox, and any
other name is a worker registered through the ``inbox.workers`` entry points (agent_runner.kinds). Each kind's
``with`` is checked here by the kind's own pydantic model when the task is made, so a task that could never run
is refused then (naming the field: ``with.url``), and what is stored is the checked value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from agent_runner.kinds import BUILTIN_KINDS, CommandInput, registered_workers
from inbox.addresses import literal, refusal
from inbox.channels import webhook_target
from inbox.errors import InvalidInput
from inbox.task_fields import invalid_input

AGENT, REMIND, HTTP, COMMAND = BUILTIN_KINDS
MAX_HEADERS = 50
MAX_BODY = 1 << 20
# Set by the host from the request and the checked address: a task cannot send another name or length than
# the ones its request really has.
HOST_SET_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _url(value: str) -> str:
    webhook_target(value, field="url")  # http(s) with a host, no credentials, no literal metadata address
    return value


def _headers(value: dict[str, str]) -> dict[str, str]:
    if len(value) > MAX_HEADERS:
        raise InvalidInput("headers", f"at most {MAX_HEADERS} headers")
    for name, text in value.items():
        if name.lower() in HOST_SET_HEADERS:
            raise InvalidInput("headers", f"{name} is set by the host from the URL and the body")
        if not name or any(c in name for c in ":\r\n ") or any(c in text for c in "\r\n"):
            raise InvalidInput("headers", f"{name!r} is not a valid header (no line breaks, no ':' in names)")
    return value


class HttpInput(BaseModel):
    """The ``http`` kind's ``with``: one request; a 2xx answer completes the run."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    url: Annotated[str, AfterValidator(_url)] = Field(description="http:// or https:// URL.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field(default="POST")
    headers: Annotated[dict[str, str], AfterValidator(_headers)] = Field(default_factory=dict)
    body: str | dict[str, Any] | list[Any] | None = Field(
        default=None, description="Text sent as is, or a JSON value sent as application/json."
    )


@dataclass(frozen=True)
class KindInfo:
    """One kind as ``inbox workers`` lists it."""

    name: str
    builtin: bool
    description: str
    input_schema: dict[str, Any] | None  # None: the kind takes no ``with``
    problem: str | None = None  # a registered worker that cannot be used, and why

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "builtin": self.builtin,
            "description": self.description,
            "input_schema": self.input_schema,
            "problem": self.problem,
        }


_BUILTIN_TEXT = {
    AGENT: "Ask the model: the task's text is the prompt (the default).",
    REMIND: "Deliver the task's text as is at its time; no model call.",
    HTTP: "One HTTP request made by the host; a 2xx answer completes, other statuses fail, 5xx and timeouts retry.",
    COMMAND: "Run a program in the runner's sandbox; exit code 0 completes, its output is the result.",
}
_BUILTIN_INPUT: dict[str, type[BaseModel] | None] = {AGENT: None, REMIND: None, HTTP: HttpInput, COMMAND: CommandInput}


def kinds() -> list[KindInfo]:
    """Every kind a task may name: the built-ins, then the registered workers by name."""
    listed = [
        KindInfo(name, True, _BUILTIN_TEXT[name], _schema(model))
        for name, model in _BUILTIN_INPUT.items()  # in BUILTIN_KINDS' order
    ]
    for name, found in sorted(registered_workers().items()):
        if found.worker is None:
            listed.append(KindInfo(name, False, found.source, None, found.problem))
        else:
            listed.append(KindInfo(name, False, found.worker.description, _schema(found.worker.input)))
    return listed


def _schema(model: type[BaseModel] | None) -> dict[str, Any] | None:
    return model.model_json_schema() if model is not None else None


def input_model(do: str) -> type[BaseModel] | None:
    """The model ``do``'s ``with`` is checked by (None: it takes none); unknown kinds are refused naming ``do``."""
    if do in _BUILTIN_INPUT:
        return _BUILTIN_INPUT[do]
    found = registered_workers().get(do)
    if found is None:
        known = ", ".join([*BUILTIN_KINDS, *sorted(registered_workers())])
        raise InvalidInput("do", f"{do!r} is not a kind (known: {known}; inbox workers lists them)")
    if found.worker is None:
        raise InvalidInput("do", f"the worker {do!r} {found.problem}")
    return found.worker.input


def checked_with(do: str, given: Mapping[str, Any] | None, *, by_agent: bool) -> dict[str, Any] | None:
    """``given`` as ``do`` takes it, checked by its model and dumped as stored; :class:`InvalidInput` naming
    ``with`` or one of its fields (``with.url``) otherwise. ``by_agent``: the assistant wrote it, so an ``http``
    URL that is a literal non-public address is refused now rather than at every run."""
    model = input_model(do)
    if model is None:
        if given:
            raise InvalidInput("with", f"is not taken by the {do} kind (only by http, command and workers)")
        return None
    try:
        value = model.model_validate(given if given is not None else {})
    except ValidationError as exc:
        error = invalid_input(exc.errors())
        raise InvalidInput(f"with.{error.field}", error.reason) from None
    if by_agent and isinstance(value, HttpInput):
        host = webhook_target(value.url, field="with.url").host
        address = literal(host)
        why = refusal(address, public_only=True) if address is not None else None
        if why is not None:
            raise InvalidInput("with.url", f"{why}: {PUBLIC_ONLY}")
    dumped: dict[str, Any] = value.model_dump(mode="json", exclude_none=True)
    return dumped


PUBLIC_ONLY = "a request the assistant wrote reaches only public addresses"
