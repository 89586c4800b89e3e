"""The deliverer: a thread of the host that sends outbox rows through their channels, beside the sweeper.

One loop owns the store side: in one transaction it records the attempts that finished and claims as many due
rows as it may hold (inbox.store.outbox), and puts each in its channel's lane for the sending threads
(sweeper/delivery/lanes.py); it never waits on the network itself. It looks again when a send finishes, when this
process commits rows to deliver (the store rings it: inbox.store.engine.on_deliverable, so a reply goes out at
once), when a retry comes due, and at least every ``poll_s`` for rows other hosts wrote or left behind. The
sweeper's pass never waits on it.

A channel has at most ``per_channel`` sends under way, so one slow receiver holds only that many threads.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import col, select

from inbox.addresses import Resolver, system_resolver
from inbox.config import Settings
from inbox.defaults import DELIVERY_BACKOFF, DELIVERY_TIMEOUT_S
from inbox.enums import ChannelKind
from inbox.store.engine import on_deliverable, transaction
from inbox.store.models import Channel
from inbox.store.outbox import (
    Attempted,
    Claimed,
    Recorded,
    Verdict,
    claim_deliveries,
    next_delivery_due,
    record_deliveries,
)
from inbox.store.types import utcnow
from sweeper.delivery.base import Delivery, Sender, Sent, body_of, channel_of, fail, retry
from sweeper.delivery.command import CommandSender
from sweeper.delivery.lanes import Lanes
from sweeper.delivery.mail import SmtpSender
from sweeper.delivery.webhook import WebhookSender

log = logging.getLogger("inbox.delivery")


@dataclass(frozen=True)
class DeliveryConfig:
    timeout_s: float = DELIVERY_TIMEOUT_S  # INBOX_DELIVERY_TIMEOUT: one attempt's limit
    backoff: tuple[timedelta, ...] = DELIVERY_BACKOFF  # INBOX_DELIVERY_BACKOFF: waits between attempts
    threads: int = 32  # sends under way at once
    per_channel: int = 8  # of which to one channel; it holds at most twice that (waiting or being sent)
    window: int = 128  # rows held at once in all
    poll_s: float = 1.0  # the longest the loop sleeps without looking at the store

    @property
    def lease(self) -> timedelta:
        """How long a claim holds a row: past the longest it can wait for a thread and for its lane's send ahead
        of it, and its own send, so a row is never sent twice at once (sweeper/delivery/lanes.py)."""
        return timedelta(seconds=4 * self.timeout_s + 5)

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryConfig:
        return cls(timeout_s=settings.delivery_timeout, backoff=settings.delivery_backoff)


def default_senders(config: DeliveryConfig, resolver: Resolver = system_resolver) -> dict[ChannelKind, Sender]:
    return {
        ChannelKind.WEBHOOK: WebhookSender(timeout_s=config.timeout_s, resolver=resolver),
        ChannelKind.COMMAND: CommandSender(timeout_s=config.timeout_s),
        ChannelKind.SMTP: SmtpSender(timeout_s=config.timeout_s),
    }


@dataclass(frozen=True)
class Tally:
    """What one deliverer recorded since it started."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0


class Deliverer:
    def __init__(
        self,
        engine: Engine,
        *,
        owner: str,
        config: DeliveryConfig | None = None,
        senders: Mapping[ChannelKind, Sender] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.owner = owner
        self.config = config or DeliveryConfig()
        self.senders = dict(senders) if senders is not None else default_senders(self.config)
        self.clock = clock
        self._lanes: Lanes | None = None
        self._lock = threading.Lock()
        self._finished: list[Attempted] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = threading.Condition()
        self._rounds = 0
        self._quiet = False  # after the last round: nothing in hand and nothing due that could be taken
        self._counts: Counter[str] = Counter()
        self._unlisten: Callable[[], None] | None = None

    # -- life ----------------------------------------------------------------------------------------------------
    def start(self) -> None:
        config = self.config
        self._lanes = Lanes(threads=config.threads, per_channel=config.per_channel, send=self._send)
        self._unlisten = on_deliverable(self.engine, self.wake)
        self._thread = threading.Thread(target=self._run, name="deliverer", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, grace_s: float | None = None) -> None:
        """Stop claiming; what is in hand gets ``grace_s`` (default: one attempt's timeout) to be sent and recorded.
        A row not sent by then keeps its claim: it is sent again once the lease ends."""
        if self._unlisten is not None:
            self._unlisten()
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        if self._lanes is not None:
            self._lanes.close(self.config.timeout_s if grace_s is None else grace_s)
        try:
            self._step(claim=False)
        except Exception as exc:  # the store is gone: those rows' claims run out and they are sent again
            log.error("delivery: could not record the last results: %s", exc)

    def drain(self, timeout_s: float) -> bool:
        """Wait until nothing is in hand and nothing is due now (what failed waits for its retry); False when
        ``timeout_s`` passed first. For cron mode, which delivers before it exits."""
        with self._state:
            target = self._rounds + 2  # a whole round that began after every row written so far was committed
            self._wake.set()
            return self._state.wait_for(lambda: self._rounds >= target and self._quiet, timeout_s)

    @property
    def tally(self) -> Tally:
        with self._lock:
            return Tally(self._counts["delivered"], self._counts["retrying"], self._counts["failed"])

    # -- the loop ------------------------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before looking: a ring while we look is not lost
            try:
                claimed, room, due = self._step(claim=True)
            except Exception as exc:  # the store is unreachable: look again later, the rows wait
                log.error("delivery: could not use the store: %s", exc)
                claimed, room, due = 0, 0, None
            now = self.clock()
            with self._lock:
                idle = not self._finished
            idle = idle and self._lanes is not None and self._lanes.idle()
            with self._state:
                self._rounds += 1
                self._quiet = idle and claimed == 0 and (due is None or due > now)
                self._state.notify_all()
            if claimed and room > 0:
                continue  # more may be due at once
            wait = self.config.poll_s
            if due is not None and room > 0:
                wait = min(wait, max(0.0, (due - now).total_seconds()))
            if wait == 0:
                wait = self.config.poll_s  # what is due waits on a full channel: a finished send wakes us
            self._wake.wait(wait)

    def _step(self, *, claim: bool) -> tuple[int, int, datetime | None]:
        """Record what finished and claim what may be taken on; (rows claimed, room left, next due)."""
        with self._lock:
            finished, self._finished = self._finished, []
        in_hand = self._lanes.in_hand() if self._lanes is not None else Counter()
        room = self.config.window - in_hand.total()
        now = self.clock()
        try:
            claimed, channels, due = self._claim_and_record(finished, in_hand, room, now, claim=claim)
        except Exception:
            with self._lock:
                self._finished[:0] = finished  # recorded next time, before their claims run out
            raise
        for item in claimed:
            self._start(item, channels.get(item.channel))
        return len(claimed), room - len(claimed), due

    def _claim_and_record(
        self, finished: list[Attempted], in_hand: Counter[str], room: int, now: datetime, *, claim: bool
    ) -> tuple[list[Claimed], dict[str, Channel], datetime | None]:
        """One transaction: record ``finished``, then claim up to ``room`` rows and read their channels."""
        claimed: list[Claimed] = []
        channels: dict[str, Channel] = {}
        due, recorded = None, Recorded()
        with transaction(self.engine) as db:
            if finished:
                recorded = record_deliveries(db, finished, owner=self.owner, now=now, backoff=self.config.backoff)
            if claim and room > 0:
                config = self.config
                claimed = claim_deliveries(
                    db,
                    owner=self.owner,
                    now=now,
                    lease=config.lease,
                    limit=room,
                    per_channel=2 * config.per_channel,
                    in_hand=in_hand,
                )
                names = sorted({item.channel for item in claimed})
                channels = {row.name: row for row in db.exec(select(Channel).where(col(Channel.name).in_(names)))}
                due = next_delivery_due(db)
        if finished:
            self._recorded(finished, recorded)
        return claimed, channels, due

    def _recorded(self, finished: list[Attempted], recorded: Recorded) -> None:
        """Count and log what was recorded (once it is committed)."""
        with self._lock:
            self._counts.update(delivered=recorded.delivered, retrying=recorded.retrying, failed=recorded.failed)
        if recorded.lost:
            log.warning("delivery: %d results dropped: their claims had run out and were taken over", recorded.lost)
        for result in finished:
            if result.verdict != Verdict.DELIVERED:
                fate = "failed" if result.verdict == Verdict.FAIL else "to be retried"
                log.warning("delivery of %s (attempt %d) %s: %s", result.id, result.attempt, fate, result.error)

    def _start(self, item: Claimed, channel: Channel | None) -> None:
        if channel is None:
            self._finish(item, fail(f"channel {item.channel!r} no longer exists"))
        elif item.attempt > 2 * self.config.max_attempts:  # claimed again and again, never recorded: hosts died on it
            self._finish(item, fail(f"abandoned after {item.attempt - 1} attempts whose results were never recorded"))
        elif self._lanes is not None:
            self._lanes.put(Delivery(item, channel_of(channel), body_of(item)))

    def _send(self, delivery: Delivery) -> None:
        sender = self.senders.get(delivery.channel.kind)
        try:
            sent = sender.send(delivery) if sender is not None else fail(f"no sender for {delivery.channel.kind}")
        except Exception as exc:  # a fault of ours: the row is retried like after a failed send, not lost
            log.exception("delivery of %s failed in the host", delivery.item.id)
            sent = retry(f"the host failed while sending: {exc!r}")
        self._finish(delivery.item, sent)

    def _finish(self, item: Claimed, sent: Sent) -> None:
        result = Attempted(item.id, item.attempt, sent.verdict, sent.error, sent.retry_after)
        with self._lock:
            self._finished.append(result)
        self._wake.set()
