"""Lanes: claimed rows waiting to be sent, one lane per channel, and the threads that send them.

A lane sends at most ``per_channel`` of its rows at once, and the sending threads take lanes in turn, so a slow or
silent receiver holds only its own lane's share of the threads while the others keep flowing. What a lane holds
(waiting plus being sent) is kept to twice that by the deliverer's claims, so a claimed row waits for at most one
send of its lane before its own: the claim's lease covers that (DeliveryConfig.lease).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable

from sweeper.delivery.base import Delivery


class Lanes:
    def __init__(self, *, threads: int, per_channel: int, send: Callable[[Delivery], None]) -> None:
        self.per_channel = per_channel
        self._send = send
        self._changed = threading.Condition()
        self._waiting: dict[str, deque[Delivery]] = {}
        self._sending: Counter[str] = Counter()
        self._turn: deque[str] = deque()  # the lanes in the order the threads look at them
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"deliver-{index}", daemon=True) for index in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def put(self, delivery: Delivery) -> None:
        channel = delivery.item.channel
        with self._changed:
            if channel not in self._waiting:
                self._waiting[channel] = deque()
                self._turn.append(channel)
            self._waiting[channel].append(delivery)
            self._changed.notify()

    def in_hand(self) -> Counter[str]:
        """Per channel, its rows waiting or being sent."""
        with self._changed:
            held = Counter({channel: len(rows) for channel, rows in self._waiting.items() if rows})
            held.update(+self._sending)
            return held

    def idle(self) -> bool:
        with self._changed:
            return not any(self._waiting.values()) and not +self._sending

    def close(self, grace_s: float) -> bool:
        """Let what is in hand be sent for up to ``grace_s``, then stop the threads; True when all was sent.
        Rows still waiting then are dropped here: they keep their claims and are sent again once the lease ends."""
        deadline = time.monotonic() + grace_s
        with self._changed:
            while any(self._waiting.values()) or +self._sending:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            done = not any(self._waiting.values()) and not +self._sending
            self._closed = True
            self._waiting.clear()
            self._changed.notify_all()
        return done

    def _take(self) -> Delivery | None:
        with self._changed:
            while not self._closed:
                for _ in range(len(self._turn)):
                    channel = self._turn[0]
                    self._turn.rotate(-1)
                    rows = self._waiting.get(channel)
                    if rows and self._sending[channel] < self.per_channel:
                        self._sending[channel] += 1
                        return rows.popleft()
                self._changed.wait()
            return None

    def _work(self) -> None:
        while (delivery := self._take()) is not None:
            try:
                self._send(delivery)
            finally:
                channel = delivery.item.channel
                with self._changed:
                    self._sending[channel] -= 1
                    if not self._sending[channel] and not self._waiting.get(channel):
                        self._forget(channel)
                    self._changed.notify_all()

    def _forget(self, channel: str) -> None:
        """A lane with nothing in hand is dropped (the caller holds the lock), so idle channels cost no turns."""
        del self._sending[channel]
        if channel in self._waiting:
            del self._waiting[channel]
            self._turn.remove(channel)
