"""How the work of a kind that is not a model call ends: the one rule for its result, wherever the work ran.

An ``http`` task's request is made by the host, either for the runner that holds the run or, when nothing about the
run needs a runner, by the host alone (sweeper.host_requests); a ``command`` or a worker runs in the runner. Each
ends in a :class:`Done`, and :func:`kind_result` turns it into the run's result: a non-empty text result is the run's
reply, delivered like a model's; an empty one or ``NO_REPLY`` ends the run ``silent``.

Pydantic and the standard library only (through agent_runner.protocol): the host imports it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agent_runner.protocol import HttpAnswer, RunResult

MAX_RESULT = 16_000  # characters of a kind's text result kept as its reply
SILENCE = "NO_REPLY"


@dataclass(frozen=True)
class Done:
    outcome: Literal["completed", "silent", "failed", "timeout"]
    text: str = ""
    error: str | None = None
    transient: bool = False
    retry_after_s: float | None = None


def finished(text: str | None) -> Done:
    """A kind's text result: delivered, or silence."""
    kept = (text or "").strip()
    if not kept or kept == SILENCE:
        return Done("silent")
    return Done("completed", kept[:MAX_RESULT])


def http_done(answer: HttpAnswer) -> Done:
    """How an ``http`` task's request went (sweeper.http_work) as the run's end."""
    if answer.error is not None:
        return Done("failed", error=answer.error, transient=answer.transient, retry_after_s=answer.retry_after_s)
    return finished(answer.body)


def kind_result(done: Done, **base: Any) -> RunResult:
    """The run's result; ``base``: its ``id``, ``attempt``, ``started_at`` and what a pre-script left."""
    return RunResult(
        outcome=done.outcome,
        reply=done.text or None,
        model_output=done.text or None,
        error=done.error,
        transient=done.transient,
        retry_after_s=done.retry_after_s,
        **base,
    )
