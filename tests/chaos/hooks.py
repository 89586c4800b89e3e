"""Webhooks in a chaos run: named hooks made before the first kill, calls of them (``POST /v1/hooks/NAME``) made by
the emitter process to whichever host is up, and what must hold of them once the run has settled.

Some of the planned emissions (tests/chaos/events.py) are hook calls instead of ``Inbox.emit``: their event is
``hook.NAME`` and their body the emission's ``{"n": N, "key": K}`` as JSON, with the emission's key as
``Idempotency-Key``. A call that fails because its host was killed (the connection refused or cut) is made again
to another host, as a real caller retries; the emitter logs each 202 once it has it, with how many tries it took.
What must hold, beyond the event checks (which hook events meet like any other):

* every 202 answer names an event of the store, ``hook.NAME``, made by ``hook:NAME`` for the hook's session;
* the ``--message`` hook's bodies are in its session's messages exactly once per event: a keyed retry answers
  the first call and drops no second message; an unkeyed retry that followed a committed call makes a new event,
  and with it a new message; a 202 names the message it dropped (a repeat names none).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from inbox import Inbox
from tests.chaos.invariants import DUPLICATE, LOSS, Snapshot, Violation

HOOK = "hook"  # the kind of violation that is neither a duplicate nor a loss
RETRY_FOR_S = 120.0  # how long a call is tried again before the emitter gives up (and the run fails)
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class HookPlan:
    name: str
    session: str | None
    message: bool  # --message: the body is also dropped into the session
    signed: bool  # X-Inbox-Signature (HMAC of the body) instead of the bearer secret

    @property
    def event(self) -> str:
        return f"hook.{self.name}"

    @property
    def author(self) -> str:
        return f"hook:{self.name}"


HOOKS = (
    HookPlan("push", None, message=False, signed=False),  # hook.push: for every session, and `*.push` hears it
    HookPlan("ci", "chaos-1", message=False, signed=True),
    HookPlan("note", "chaos-0", message=True, signed=True),
)
BY_NAME = {hook.name: hook for hook in HOOKS}


def create_hooks(inbox: Inbox, secrets_file: Path) -> None:
    """Make the hooks and keep their secrets where the emitter process reads them (written whole, then renamed)."""
    secrets = {}
    for hook in HOOKS:
        secrets[hook.name] = inbox.create_hook(hook.name, session=hook.session, message=hook.message).secret
    part = secrets_file.with_suffix(".part")
    part.write_text(json.dumps(secrets))
    os.replace(part, secrets_file)


def _headers(hook: HookPlan, secret: str, body: bytes, key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if hook.signed:
        headers["X-Inbox-Signature"] = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    else:
        headers["Authorization"] = f"Bearer {secret}"
    if key is not None:
        headers["Idempotency-Key"] = key
    return headers


def call_hook(
    http: httpx.Client, name: str, data: dict[str, Any], key: str | None, *, secret: str, urls: Path
) -> dict[str, Any]:
    """POST the call to a live host (the hosts' addresses are in ``urls``, one a line, kept by the cluster); a
    connection refused or cut, or a 503, is tried again at the next host. Returns the answer and ``tries``."""
    hook = BY_NAME[name]
    body = json.dumps(data).encode()
    headers = _headers(hook, secret, body, key)
    deadline, tries = time.monotonic() + RETRY_FOR_S, 0
    while time.monotonic() < deadline:
        live = urls.read_text().split() if urls.exists() else []
        first = random.randrange(len(live)) if live else 0  # the calls spread over the hosts
        for url in live[first:] + live[:first]:
            tries += 1
            try:
                answer = http.post(f"{url}/v1/hooks/{name}", content=body, headers=headers, timeout=TIMEOUT_S)
            except httpx.TransportError:  # that host is dead (or died during the call): ask another
                continue
            if answer.status_code == 202:
                return {**answer.json(), "tries": tries}
            if answer.status_code != 503:
                raise RuntimeError(f"hook {name}: {answer.status_code} {answer.text}")
        time.sleep(0.2)
    raise RuntimeError(f"hook {name}: no host answered within {RETRY_FOR_S:g} s ({tries} tries)")


def message_number(text: str) -> int | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data.get("n") if isinstance(data, dict) else None


def check_hooks(snap: Snapshot, answers: Sequence[dict[str, Any]]) -> list[Violation]:
    """``answers``: the emitter's log; the hook calls are the lines with a ``hook``."""
    out = []
    for answer in answers:
        hook = BY_NAME.get(answer.get("hook") or "")
        if hook is None:
            continue
        event = snap.events.get(answer["id"])
        if event is None:
            continue  # the event checks report an answer of no recorded event
        made = (event.name, event.created_by, event.session)
        if made != (hook.event, hook.author, hook.session):
            out.append(Violation(HOOK, event.id, f"call of {hook.name} answered, but the event is {made}"))
        dropped = answer.get("message_id")
        if hook.message and not answer["duplicate"]:
            row = snap.rows.get(dropped or "")
            if row is None or row.session != hook.session or message_number(row.content.get("text", "")) != answer["n"]:
                out.append(Violation(LOSS, event.id, f"call {answer['n']} of {hook.name}: no message {dropped}"))
        elif dropped is not None:
            out.append(Violation(DUPLICATE, event.id, f"call {answer['n']} of {hook.name} answered message {dropped}"))
    for hook in HOOKS:
        if hook.message:
            out += _check_messages(snap, hook)
    return out


def _check_messages(snap: Snapshot, hook: HookPlan) -> list[Violation]:
    """One message per event of the hook, for the same call (its number)."""
    events = Counter(e.data.get("n") for e in snap.events.values() if e.name == hook.event and isinstance(e.data, dict))
    rows = [row for row in snap.rows.values() if row.created_by == hook.author]
    messages = Counter(message_number((row.content or {}).get("text", "")) for row in rows)
    out = []
    for n in sorted(set(events) | set(messages), key=str):
        if messages[n] > events[n]:
            out.append(Violation(DUPLICATE, hook.name, f"call {n}: {messages[n]} messages for {events[n]} events"))
        elif messages[n] < events[n]:
            out.append(Violation(LOSS, hook.name, f"call {n}: {messages[n]} messages for {events[n]} events"))
    out += [Violation(HOOK, row.id, f"message in {row.session}") for row in rows if row.session != hook.session]
    return out
