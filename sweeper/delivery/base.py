"""What a sender is given (one claimed outbox row, its channel, the JSON body) and what it answers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from inbox.channels import ChannelDefinition
from inbox.enums import ChannelKind
from inbox.store.models import Channel
from inbox.store.outbox import Claimed, Verdict

ERROR_TAIL = 500  # characters of a receiver's answer or a command's stderr kept as the error


def channel_of(row: Channel) -> ChannelDefinition:
    """A stored channel, as the senders read it (a plain copy: senders run on other threads than the store)."""
    return ChannelDefinition(row.name, ChannelKind(row.kind), row.target, row.secret, row.mail_to, row.mail_from)


@dataclass(frozen=True)
class Delivery:
    item: Claimed
    channel: ChannelDefinition
    body: bytes  # the JSON document the receiver gets: the same on every attempt


@dataclass(frozen=True)
class Sent:
    """What one attempt came to."""

    verdict: Verdict
    error: str | None = None
    retry_after: timedelta | None = None


DELIVERED = Sent(Verdict.DELIVERED)


def retry(error: str, retry_after: timedelta | None = None) -> Sent:
    return Sent(Verdict.RETRY, error, retry_after)


def fail(error: str) -> Sent:
    return Sent(Verdict.FAIL, error)


class Sender(Protocol):
    def send(self, delivery: Delivery) -> Sent: ...


def body_of(item: Claimed) -> bytes:
    """The JSON a webhook receives as its body and a command on its standard input (docs/delivery.md)."""
    document = {
        "id": item.id,
        "session": item.session,
        "kind": item.kind,
        "text": item.text,
        "created_at": item.created_at.isoformat(),
        "in_reply_to": item.in_reply_to,
        "series_id": item.series_id,
        "task_name": item.task_name,
        "channel": item.channel,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def tail(text: str, limit: int = ERROR_TAIL) -> str:
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-limit:]
