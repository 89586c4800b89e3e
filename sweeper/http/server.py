"""The host's HTTP server: uvicorn's, waking once a second when it has nothing to do instead of ten times.

uvicorn's main loop sleeps 0.1 s at a time to look whether it should exit; in an idle host that was a fifth of a
percent of a core. This one waits for the exit to be asked for (``stop_soon``, from any thread) or a second to pass,
whichever comes first: it still refreshes the ``date`` header every second, and it stops at once when told to.
"""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn

TICK_S = 1.0
TICKS_PER_DATE = 10  # uvicorn refreshes its date header when its tick counter is a multiple of 10


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._exit = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + TICKS_PER_DATE) % 864_000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), TICK_S)
            should_exit = await self.on_tick(counter)

    def stop_soon(self) -> None:
        """Ask the server to stop, from any thread; it stops within a tick even if asked before it started."""
        self.should_exit = True
        loop, event = self._loop, self._exit
        if loop is not None and event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(event.set)
