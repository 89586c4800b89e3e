"""Doorbells: how the sweeper tells a waiting runner, at once, that its session has due work.

A runner with nothing to do long-polls its claim; the host rings the session's bell when a row of that session
comes due (or a message lands), and the claim looks again. A ring between a claim and its wait is not lost: the
waiter compares a counter taken before it claimed. Waiters are asyncio futures, so a hundred idle runners hold
no server threads; the sweeper rings from its own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Doorbells:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rings: dict[str, int] = {}
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}

    def count(self, session: str) -> int:
        with self._lock:
            return self._rings.get(session, 0)

    def ring(self, session: str) -> bool:
        """Wake the session's waiting claims; True when one was waiting (it claims now, no pass is needed)."""
        with self._lock:
            self._rings[session] = self._rings.get(session, 0) + 1
            waiters = self._waiters.pop(session, set())
        woken = False
        for loop, future in waiters:
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody is waiting any more
                loop.call_soon_threadsafe(_settle, future)
                woken = True
        return woken

    async def wait(self, session: str, *, seen: int, timeout_s: float) -> bool:
        """Wait until the bell has rung past ``seen`` or the timeout passes; True when it rang."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self._rings.get(session, 0) != seen:
                return True
            self._waiters.setdefault(session, set()).add(entry)
        try:
            await asyncio.wait_for(future, timeout_s)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.get(session, set()).discard(entry)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
