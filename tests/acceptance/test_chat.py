"""``inbox chat`` as a user drives it through a pipe, against a real ``inbox serve`` host and the fake model."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from inbox.store.engine import transaction
from inbox.store.models import MessageIn
from tests.acceptance.served import Served

pytestmark = pytest.mark.slow

WAIT_S = 20.0


def _as_a_shell_starts_it() -> None:
    """In the child before it starts: Ctrl-C deliverable and not ignored, as a shell leaves it. A test process
    may hold SIGINT blocked or ignored (both are inherited across exec), and Python then never raises
    KeyboardInterrupt: the Ctrl-C test hung twice in full runs and never alone."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class ChatProcess:
    """``inbox chat`` with its standard input and output on pipes; output lines are read by a thread."""

    def __init__(self, served: Served, *args: str) -> None:
        self.process = subprocess.Popen(
            ["inbox", "chat", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=served.env,
            preexec_fn=_as_a_shell_starts_it,
        )
        self.lines: queue.Queue[tuple[float, str] | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put((time.time(), line.rstrip("\n")))
        self.lines.put(None)

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, *parts: str, timeout_s: float = WAIT_S) -> tuple[float, str]:
        """The next output line holding every one of ``parts``, and when it was read (epoch seconds)."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                got = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if got is None:
                break
            self.seen.append(got[1])
            if all(part in got[1] for part in parts):
                return got
        shown = "\n".join(self.seen)
        raise AssertionError(f"no line with {parts} within {timeout_s:g} s; chat printed:\n{shown}")

    def finish(self, timeout_s: float = 10.0) -> tuple[int, str]:
        """Its exit status and standard error, once it has exited."""
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
            signals = [
                line for line in status.splitlines() if line.startswith(("SigPnd", "ShdPnd", "SigBlk", "SigIgn"))
            ]
            raise AssertionError(f"inbox chat still running after {timeout_s:g} s; its signals: {signals}") from None
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


@pytest.fixture
def chats() -> Iterator[list[ChatProcess]]:
    started: list[ChatProcess] = []
    yield started
    for chat in started:
        if chat.process.poll() is None:
            chat.process.kill()
        chat.process.wait(timeout=10)


def _open(served: Served, chats: list[ChatProcess], *args: str) -> ChatProcess:
    chat = ChatProcess(served, *args)
    chats.append(chat)
    chat.expect("session main", "/quit", "/tasks")
    return chat


def test_a_line_gets_its_answer_and_quit_exits_0(served: Served, chats: list[ChatProcess]) -> None:
    served.fake.reply("Hello from the model")
    served.start_host()
    chat = _open(served, chats)
    chat.type("hi there")
    chat.expect("assistant> Hello from the model")
    assert served.fake.requests[-1].json["messages"][-1]["content"] == "hi there"
    [sent] = [m for m in served.inbox.outbox(session="main") if m.text == "Hello from the model"]
    assert sent.in_reply_to is not None
    chat.type("/quit")
    code, errors = chat.finish()
    assert (code, errors) == (0, "")


def test_a_reminder_shows_up_while_idle_and_tasks_lists_it(served_sqlite: Served, chats: list[ChatProcess]) -> None:
    served = served_sqlite
    served.start_host()
    chat = _open(served, chats)
    made = served.inbox.schedule("stand up", in_="3s", remind=True)
    chat.type("/tasks")
    chat.expect(made.series_id, "stand up", "active")
    # Nothing more is typed: the reminder must appear on its own, soon after it was delivered.
    shown_at, _ = chat.expect("[reminder] stand up")
    [delivered] = [m for m in served.inbox.outbox(session="main") if m.kind == "reminder"]
    assert shown_at - delivered.created_at.timestamp() < 1.5
    chat.type("/quit")
    assert chat.finish() == (0, "")


def test_without_a_host_the_line_waits_and_is_answered_later(served_sqlite: Served, chats: list[ChatProcess]) -> None:
    served = served_sqlite
    served.fake.reply("sorry, I was away")
    chat = _open(served, chats, "--timeout", "1s")
    chat.type("anyone there?")
    chat.expect("no answer within 1s", "queued", "inbox serve", "inbox doctor")
    with transaction(served.inbox.engine) as db:
        [line] = db.exec(select(MessageIn).where(MessageIn.kind == "chat")).all()
    assert (line.text, line.session, line.status) == ("anyone there?", "main", "pending")
    served.start_host()
    chat.expect("assistant> sorry, I was away")  # printed while idle at the prompt
    assert chat.process.stdin is not None
    chat.process.stdin.close()  # end of input, as Ctrl-D
    assert chat.finish() == (0, "")


def test_other_deliveries_are_labelled_with_their_kind(served_sqlite: Served, chats: list[ChatProcess]) -> None:
    served = served_sqlite
    served.fake.reply("weather: sunny")
    served.start_host()
    chat = _open(served, chats)
    served.inbox.schedule("check the weather", in_="1s", name="weather")
    chat.expect("[task] weather: sunny")
    chat.type("/quit")
    assert chat.finish() == (0, "")


def test_a_failed_message_is_reported_without_waiting_out_the_timeout(
    served_sqlite: Served, chats: list[ChatProcess]
) -> None:
    served = served_sqlite
    served.start_host(OPENAI_API_KEY="sk-wrong")
    chat = _open(served, chats)  # the default timeout is 2 minutes
    started = time.monotonic()
    chat.type("hello?")
    chat.expect("[system]", "failed", "credentials rejected")  # the host's failure notice, from the outbox
    assert time.monotonic() - started < WAIT_S
    chat.type("/quit")
    assert chat.finish() == (0, "")


def test_ctrl_c_exits_130_cleanly(served_sqlite: Served, chats: list[ChatProcess]) -> None:
    chat = _open(served_sqlite, chats)
    chat.process.send_signal(signal.SIGINT)
    code, errors = chat.finish(timeout_s=30)  # a loaded machine once took over 10 s to get it there
    assert (code, errors) == (130, "")
