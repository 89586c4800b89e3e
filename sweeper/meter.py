"""The host's own count of the tokens each attempt spent, read from the provider's answers to the host.

A runner is not trusted to say what its run cost: the model calls it asks for go through its host
(``/runner/v1/model``), so the host adds up the usage each provider answer reports, per attempt, and records
that sum when the attempt's result arrives (the tokens a result claims are ignored). Budgets
(``INBOX_SERIES_DAILY_TOKENS``) are then computed from counts the runner cannot lower.

The counts live in the memory of the host that made the calls. That is enough: a runner's token is issued by,
and only valid on, the host that started it (sweeper.http.runner_auth), so the result of an attempt reaches the
same host as its model calls.

A runner could post its result while one of its model calls is still out, hoping the call is charged to nobody.
So a result first *closes* its attempt: a model call that begins afterwards is refused, and one already under
way is waited for (at most ``settle_s``) and counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from agent_runner.conversation import ProviderError, Usage

SETTLE_S = 150.0  # a provider call gives up after 120 s (sweeper.providers)
FORGET_S = 86_400.0  # an attempt whose result never came (its runner died) is forgotten after a day
# A closed attempt is remembered only as long as a model call that passed its lease check before the result
# committed could still be starting; after that the check itself refuses it.
CLOSED_KEEP_S = 300.0


@dataclass(frozen=True)
class Attempt:
    """One attempt at one row, as held by one runner (its lease owner)."""

    owner: str
    message_id: str
    attempt: int


@dataclass
class _Count:
    input_tokens: int = 0
    output_tokens: int = 0
    in_flight: int = 0
    closed: bool = False
    touched: float = 0.0
    provider_down: bool = False  # the attempt's last model call failed for want of the provider (transient)


class AttemptClosed(Exception):
    """The attempt's result is already in: no more model calls are made for it."""


class TokenMeter:
    def __init__(self, *, settle_s: float = SETTLE_S, forget_s: float = FORGET_S) -> None:
        self._settle_s = settle_s
        self._forget_s = forget_s
        self._counts: dict[Attempt, _Count] = {}
        self._changed = threading.Condition()
        self._next_sweep = 0.0

    def _entry(self, attempt: Attempt) -> _Count:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + 60.0
            stale = [
                key
                for key, c in self._counts.items()
                if c.in_flight == 0 and now - c.touched > (CLOSED_KEEP_S if c.closed else self._forget_s)
            ]
            for key in stale:
                del self._counts[key]
        entry = self._counts.setdefault(attempt, _Count())
        entry.touched = now
        return entry

    @contextmanager
    def call(self, attempt: Attempt) -> Iterator[None]:
        """Around one model call for ``attempt``; raises :class:`AttemptClosed` once its result is in."""
        with self._changed:
            entry = self._entry(attempt)
            if entry.closed:
                raise AttemptClosed(f"message {attempt.message_id} attempt {attempt.attempt} has already ended")
            entry.in_flight += 1
        try:
            yield
        finally:
            with self._changed:
                entry.in_flight -= 1
                self._changed.notify_all()
                kept = (
                    entry.in_flight or entry.closed or entry.input_tokens or entry.output_tokens or entry.provider_down
                )
                unused = not kept
                if unused and self._counts.get(attempt) is entry:
                    del self._counts[attempt]  # a refused call (no lease) leaves nothing behind

    def add(self, attempt: Attempt, usage: Usage) -> None:
        """Charge what one provider answer says it used to ``attempt``."""
        with self._changed:
            entry = self._entry(attempt)
            entry.input_tokens += max(usage.input_tokens, 0)
            entry.output_tokens += max(usage.output_tokens, 0)

    def note_call(self, attempt: Attempt, error: ProviderError | None) -> None:
        """How the attempt's latest model call ended: answered (``None``) or failed with ``error``."""
        with self._changed:
            entry = self._counts.get(attempt)
            if entry is not None:
                entry.provider_down = error is not None and error.transient

    def provider_down(self, attempt: Attempt) -> bool:
        """Whether the attempt's latest model call failed because the provider was unavailable: an attempt that
        then fails is the provider's outage, not the task's failure (inbox.store.endings)."""
        with self._changed:
            entry = self._counts.get(attempt)
            return entry is not None and entry.provider_down

    def settle(self, attempt: Attempt) -> Usage:
        """Close ``attempt`` and return what its model calls used, once the calls under way have ended."""
        with self._changed:
            entry = self._entry(attempt)
            entry.closed = True
            self._changed.wait_for(lambda: entry.in_flight == 0, timeout=self._settle_s)
            used = Usage(input_tokens=entry.input_tokens, output_tokens=entry.output_tokens)
            entry.input_tokens = entry.output_tokens = 0  # kept closed (no later call), charged once
            return used
