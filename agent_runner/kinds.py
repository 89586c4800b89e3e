"""What an occurrence does when it is not a model call: the ``command`` kind's input, and registered workers.

A worker is a Python callable another package registers under the entry-point group ``inbox.workers``::

    [project.entry-points."inbox.workers"]
    resize = "my_pkg.workers:resize"      # a Worker: its input model and its function

where ``resize = Worker(input=ResizeInput, run=do_resize, description="...")``. The host reads the same
registry to check a task's ``with`` against the worker's input model when the task is made and to list the kinds
(``inbox workers``); the runner loads it again to run the worker, so the runner's Python (the container image)
must have the worker installed too (``inbox runner build --wheels``).

Pydantic and the standard library only: this module runs inside the runner container and the host imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

WORKER_GROUP = "inbox.workers"
BUILTIN_KINDS = ("agent", "remind", "http", "command")
MAX_ARGV = 256
MAX_COMMAND_TIMEOUT_S = 86_400.0


class CommandInput(BaseModel):
    """The ``command`` kind's ``with``: the program and its arguments (run without a shell), and a time limit."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    argv: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=MAX_ARGV)] = Field(
        description="The program and its arguments, run without a shell in the runner's sandbox: "
        '["/usr/local/bin/backup.sh", "--quick"].'
    )
    timeout: Annotated[float, Field(gt=0, le=MAX_COMMAND_TIMEOUT_S)] | None = Field(
        default=None, description="Seconds the command may run; default the task's timeout, else 30."
    )


class Context(Protocol):
    """What a worker's function is given beside its input."""

    message_id: str  # the occurrence's row
    series_id: str | None
    session: str
    event: dict[str, Any] | None  # {"id", "name", "data", "session"} of the event that started it, else None
    data: Any  # the occurrence's data: a webhook's body, the upstream tasks' outcomes under "upstream"

    def progress(self, fraction: float, note: str = "") -> None: ...


@dataclass(frozen=True)
class Worker:
    """A registered kind of work: ``run(input, context)`` returns the text to deliver ("" or NO_REPLY: none), or
    raises (the run fails with the exception's text; ``TransientError`` is retried like a 5xx)."""

    input: type[BaseModel]
    run: Callable[[Any, Context], str | None]
    description: str = ""


class TransientError(Exception):
    """Raised by a worker for a failure that may pass by itself (a service away): the run is retried."""


@dataclass(frozen=True)
class Registered:
    name: str
    worker: Worker | None  # None: it could not be loaded (``problem`` says why)
    problem: str | None = None
    source: str = field(default="")  # the entry point's value, for people


def registered_workers() -> dict[str, Registered]:
    """Every worker the installed packages register, by name; one that cannot be loaded says why. A name that
    clashes with a built-in kind is never used (it could not be chosen)."""
    found: dict[str, Registered] = {}
    for point in entry_points(group=WORKER_GROUP):
        if point.name in BUILTIN_KINDS:
            found[point.name] = Registered(point.name, None, "is the name of a built-in kind", point.value)
            continue
        try:
            loaded = point.load()
        except Exception as exc:  # a broken package must not break the others or the host
            found[point.name] = Registered(point.name, None, f"cannot be loaded: {exc!r}", point.value)
            continue
        if not isinstance(loaded, Worker) or not issubclass(loaded.input, BaseModel):
            why = "is not a Worker(input=<pydantic model>, run=<function>)"
            found[point.name] = Registered(point.name, None, why, point.value)
            continue
        found[point.name] = Registered(point.name, loaded, None, point.value)
    return found
