"""The conversation of ``inbox chat`` (inbox/cli/chat.py), in a module of its own: it loads the store and rich,
which the command line's other commands and its --help do without.

One thread reads lines and sends them; a background thread polls the session's outbox and prints every delivery
as it arrives (answers, reminders, task results, system notes), also while the prompt is idle.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import nullcontext
from datetime import timedelta

import typer
from rich.text import Text

from inbox.api import Inbox
from inbox.cli.options import open_inbox
from inbox.cli.render import console, table, when
from inbox.enums import Status
from inbox.errors import InvalidInput
from inbox.schedules.durations import format_duration
from inbox.store.engine import read_transaction
from inbox.store.models import MessageIn
from inbox.views import OutboxItem

POLL_S = 0.2
PAGE = 200
# Ids are made before their rows commit, so a row may land behind a newer one: re-read this far back, dedupe.
LOOKBACK_MS = 10_000
PROMPT = "you> "
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ms(ulid: str) -> int:
    value = 0
    for char in ulid[:10]:
        value = value * 32 + _ALPHABET.index(char)
    return value


def _cursor(ms: int) -> str:
    """The smallest id of millisecond ``ms``: every id made at or after it sorts above it."""
    digits = ""
    for _ in range(10):
        ms, digit = divmod(ms, 32)
        digits = _ALPHABET[digit] + digits
    return digits + "0" * 16


class Chat:
    def __init__(self, inbox: Inbox, session: str, interactive: bool) -> None:
        self.inbox, self.session, self.interactive = inbox, session, interactive
        self.newest_ms = time.time_ns() // 1_000_000
        self.seen: set[str] = set()
        self.answered: set[str] = set()  # the messages whose answers were shown: they wake the waiting line
        self.changed = threading.Condition()
        self.printing = threading.Lock()
        self.at_prompt = False
        self.stopped = threading.Event()
        self._fetch()  # what was delivered before we started is history: `inbox outbox` shows it

    def _fetch(self) -> list[OutboxItem]:
        fresh: list[OutboxItem] = []
        after = _cursor(max(0, self.newest_ms - LOOKBACK_MS))
        while True:
            page = self.inbox.outbox(session=self.session, after=after, limit=PAGE)
            fresh += [item for item in page if item.id not in self.seen]
            if len(page) < PAGE:
                break
            after = page[-1].id
        for item in fresh:
            self.seen.add(item.id)
            self.newest_ms = max(self.newest_ms, _ms(item.id))
        if len(self.seen) > 4 * PAGE:
            self.seen = {i for i in self.seen if _ms(i) >= self.newest_ms - LOOKBACK_MS}
        return fresh

    def poll_forever(self) -> None:
        while not self.stopped.wait(POLL_S):
            try:
                fresh = self._fetch()
            except Exception as error:  # a busy or briefly unreachable store: say so once in a while, retry
                if self.stopped.is_set():
                    return
                self.say(Text(f"[error] could not read the outbox: {error}", style="red"))
                time.sleep(5)
                continue
            for item in fresh:
                self.say(_label(item))
            with self.changed:
                self.answered.update(i.in_reply_to for i in fresh if i.in_reply_to)
                self.changed.notify_all()

    def say(self, line: Text) -> None:
        """Print one line; at an idle terminal prompt, print above it and redraw what was typed so far."""
        with self.printing:
            redraw = self.interactive and self.at_prompt
            if redraw:
                sys.stdout.write("\r\x1b[K")
            console.print(line, highlight=False)
            if redraw:
                sys.stdout.write(PROMPT + _typed())
            sys.stdout.flush()

    def send(self, text: str, timeout: timedelta) -> None:
        try:
            message = self.inbox.send(text, session=self.session)
        except InvalidInput as error:
            self.say(Text(f"not sent: {error}", style="red"))
            return
        waiting = console.status("waiting for the answer (Ctrl-C quits)") if self.interactive else nullcontext()
        with waiting:
            note = self._wait(message.id, timeout)
        if note:
            self.say(Text(note, style="yellow"))

    def _wait(self, message_id: str, timeout: timedelta) -> str | None:
        """None once the answer is printed; otherwise what to tell the user."""
        deadline = time.monotonic() + timeout.total_seconds()
        ended_at: float | None = None
        while True:
            with self.changed:
                if self.changed.wait_for(lambda: message_id in self.answered, timeout=1.0):
                    return None
            now = time.monotonic()
            row = _message(self.inbox, message_id)
            if row is not None and not Status(row.status).is_live:
                ended_at = ended_at or now  # its answer commits with it: give the poller a moment to show it
                if now - ended_at > 3 * POLL_S:
                    if row.status == Status.COMPLETED:
                        return "(no answer: the assistant chose not to reply)"
                    return f"(no answer: the message {row.status}{': ' + row.reason if row.reason else ''})"
            elif now >= deadline:
                if row is not None and row.status == Status.RUNNING:
                    return "(still working on it; the answer will appear here when it arrives)"
                return (
                    f"(no answer within {format_duration(timeout)}; the message stays queued and is answered "
                    "once a host runs: start one with `inbox serve`, check with `inbox doctor`)"
                )

    def show_tasks(self) -> None:
        """The session's live tasks: active (and running) ones first by next run, then the paused ones."""
        found = [*self.inbox.tasks(session=self.session), *self.inbox.tasks(session=self.session, status="paused")]
        if not found:
            self.say(Text("No tasks in this session."))
            return
        grid = table("id", "task", "schedule", "next run", "status")
        for task in found:
            what = task.name or (task.prompt.strip().splitlines() or [""])[0][:40]
            grid.add_row(task.series_id, what, task.schedule, when(task.next_run, task.timezone), task.status)
        with self.printing:
            console.print(grid, highlight=False)


def _label(item: OutboxItem) -> Text:
    if item.kind == "reply" and item.series_id is None:
        return Text.assemble(("assistant> ", "bold cyan"), item.text)
    label = "task" if item.kind == "reply" else item.kind
    return Text.assemble((f"[{label}] ", "bold magenta"), item.text)


def _message(inbox: Inbox, message_id: str) -> MessageIn | None:
    with read_transaction(inbox.engine) as db:
        return db.get(MessageIn, message_id)


def _typed() -> str:
    try:
        import readline

        return readline.get_line_buffer()
    except ImportError:
        return ""


def converse(session: str, limit: timedelta) -> None:
    """Talk with ``session`` until the user leaves; each answer is waited for at most ``limit``."""
    interactive = sys.stdin.isatty() and console.is_terminal
    if interactive:
        _typed()  # loads readline: line editing and history for input()
    with open_inbox() as inbox:
        talk = Chat(inbox, session, interactive)
        console.print(f"Chat with session {session}: /tasks lists its tasks, /quit or Ctrl-D leaves.", highlight=False)
        threading.Thread(target=talk.poll_forever, name="outbox", daemon=True).start()
        try:
            while True:
                talk.at_prompt = True
                try:
                    line = input(PROMPT if interactive else "").strip()
                except EOFError:
                    if interactive:
                        console.print()  # Ctrl-D leaves the cursor after the prompt
                    break
                finally:
                    talk.at_prompt = False
                if line in ("/quit", "/exit"):
                    break
                if line == "/tasks":
                    talk.show_tasks()
                elif line.startswith("/") and not line.startswith("//"):
                    talk.say(Text(f"unknown command {line.split()[0]}: try /tasks or /quit (// sends a line with /)"))
                elif line:
                    talk.send(line.removeprefix("/"), limit)
        except KeyboardInterrupt:
            console.print()
            raise typer.Exit(130) from None
        finally:
            talk.stopped.set()
