"""The host's watch of the drop folder (docs/drop-folder.md): each look takes every complete file there.

``watchfiles`` wakes the watch as soon as a file appears (inotify); where inotify is unavailable (some network
and container filesystems, or ``WATCHFILES_FORCE_POLLING=1``) it polls instead. Either way the watch also looks
every :data:`LOOK_EVERY_MS`, so a file waiting to be complete (unchanged for a second) is taken in time without
another change to wake it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

import watchfiles

from inbox import drop_files
from inbox.api import Inbox

log = logging.getLogger("inbox.drop")
logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it says "N changes detected" at each change
LOOK_EVERY_MS = 250


class DropWatch:
    def __init__(
        self, inbox: Inbox, stop: threading.Event, *, on_written: Callable[[], None], polling: bool | None = None
    ) -> None:
        self.inbox = inbox
        self.stop = stop
        self.on_written = on_written
        self.polling = polling  # None: watchfiles decides (inotify, unless WATCHFILES_FORCE_POLLING is set)
        self.root = drop_files.folder(inbox)

    def look(self) -> None:
        try:
            taken = drop_files.consume(self.inbox, self.root)
        except Exception as exc:  # the store is unreachable: the files stay, the next look tries again
            log.error("drop folder: could not take files: %s", exc)
            return
        if any(fate == drop_files.Fate.WRITTEN for _, fate in taken):
            self.on_written()

    def _prepared(self) -> bool:
        try:
            drop_files.prepare(self.root)
        except (OSError, ValueError) as exc:
            log.error("drop folder: not taken: %s", exc)
            return False
        return True

    def look_once(self) -> None:
        """Cron mode: one look (a file not yet complete waits for the next run)."""
        if self._prepared():
            self.look()

    def run(self) -> None:
        if not self._prepared():
            return
        polling = self.polling or os.environ.get("WATCHFILES_FORCE_POLLING", "") not in ("", "0", "false")
        log.info("drop folder: watching %s%s", self.root, " (polling)" if polling else "")
        self.look()
        while not self.stop.is_set():
            try:
                self._watch()
            except (OSError, RuntimeError) as exc:  # no inotify here (or none left): poll instead
                if self.polling:
                    log.error("drop folder: cannot watch %s: %s", self.root, exc)
                    self.stop.wait(1.0)
                    self.look()
                    continue
                log.warning("drop folder: %s; polling instead", exc)
                self.polling = True

    def _watch(self) -> None:
        for _ in watchfiles.watch(
            self.root,
            watch_filter=None,
            debounce=50,
            step=50,
            stop_event=self.stop,
            rust_timeout=LOOK_EVERY_MS,
            yield_on_timeout=True,
            raise_interrupt=False,
            force_polling=self.polling,
            poll_delay_ms=LOOK_EVERY_MS,
        ):
            self.look()

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.run, name="drop-folder", daemon=True)
        thread.start()
        return thread
