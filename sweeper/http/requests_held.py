"""The ``http`` requests this host is making for each of its runners (sweeper.http_work), so that a runner that dies
hands its attempts back only once the requests it asked for have ended.

A runner killed mid-request leaves the host's request going: handing its attempt back at once would let the retry,
or another task in the slot of a tag limit it frees, start while the first request is still being answered. So
the host closes the dead runner's account (no request of it starts from then on), waits for the ones under way
(each ends by its own time limit), and only then releases its rows.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class RunnerGone(Exception):
    """The runner that asked has died: its attempts are being handed back."""


class RequestsHeld:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._under_way: Counter[str] = Counter()
        self._closed: set[str] = set()

    @contextmanager
    def making(self, owner: str) -> Iterator[None]:
        """Around one request asked for by ``owner``; raises :class:`RunnerGone` once its account is closed."""
        with self._changed:
            if owner in self._closed:
                raise RunnerGone(f"runner {owner} has ended")
            self._under_way[owner] += 1
        try:
            yield
        finally:
            with self._changed:
                self._under_way[owner] -= 1
                if self._under_way[owner] <= 0:
                    del self._under_way[owner]
                self._changed.notify_all()

    def close(self, owner: str, *, timeout_s: float) -> bool:
        """No request of ``owner`` starts from now on; waits for those under way. False if some outlast
        ``timeout_s``."""
        with self._changed:
            self._closed.add(owner)
            return self._changed.wait_for(lambda: owner not in self._under_way, timeout_s)

    def forget(self, owner: str) -> None:
        """Once ``owner``'s rows are handed back: its refusal is the store's (the lease is no longer held)."""
        with self._changed:
            self._closed.discard(owner)
