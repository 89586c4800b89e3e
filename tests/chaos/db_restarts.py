"""The database taken away under load: a private PostgreSQL server restarted every few seconds.

Each restart stops the server, in turn cleanly (``fast``: every session is ended) and as if it crashed
(``immediate``: the next start recovers from its WAL), keeps it down for a moment, and starts it again on the
same port. The hosts and their runners are left alone: they must notice the lost connections, wait, reconnect
by themselves and go on, with nothing lost or run twice.
"""

from __future__ import annotations

import random
import threading
import time

from tests.chaos.cluster import KillLog
from tests.chaos.private_pg import PrivatePostgres

MODES = ("fast", "immediate")


class DatabaseRestarts(threading.Thread):
    """Every ``period_s`` seconds (uniform), the server is stopped, kept down ``down_s`` seconds, and started."""

    def __init__(
        self,
        server: PrivatePostgres,
        *,
        seed: int,
        period_s: tuple[float, float] = (4.0, 8.0),
        down_s: tuple[float, float] = (0.5, 3.0),
    ) -> None:
        super().__init__(name="database-restarts", daemon=True)
        self.server = server
        self.rng = random.Random(seed)
        self.period_s = period_s
        self.down_s = down_s
        self.kills = KillLog()
        self.stopping = threading.Event()
        self._started_at = time.monotonic()

    def run(self) -> None:
        self._started_at = time.monotonic()
        while not self.stopping.wait(self.rng.uniform(*self.period_s)):
            mode = MODES[self.kills.db_restarts % len(MODES)]
            self.server.stop(mode)
            elapsed = time.monotonic() - self._started_at
            self.kills.events.append(f"t={elapsed:.1f}s database stopped ({mode})")
            time.sleep(self.rng.uniform(*self.down_s))  # down for a moment, even when the run is ending
            self.server.start()
            self.kills.db_restarts += 1
            self.kills.events.append(f"t={time.monotonic() - self._started_at:.1f}s database started")

    def stop(self) -> None:
        self.stopping.set()
        if self.ident is not None:
            self.join(timeout=60)
        if not self.server.running():
            self.server.start()
