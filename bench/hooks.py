"""Webhooks and the drop folder: from a webhook call to the model request it leads to, and from a file saved into
the drop folder to its message.

``python -m bench.hooks [--calls 200] [--files 100]``

Both through a real ``inbox serve`` (SQLite, process runtime, the fake model provider in this process, the HTTP
API on loopback).

Webhook: a ``--message`` hook; each call (``POST /v1/hooks/NAME`` with the bearer secret) drops its body into the
session, whose warm runner sends it to the model. The figure is the moment the fake provider receives the model
request minus the moment just before the call was sent; the first call (the cold runner) is not counted, and each
call waits for the previous reply. Drop folder: ``--files`` files, one every 100 ms, each written beside the
folder and renamed into it (a fresh file: the host waits until it has been unchanged for a second), and as many
moved in with an older modification time (``mv`` of an existing file: complete at once). The figure is the
message's ``created_at`` minus the rename. p50 and p99; the last line is the headline, and the lines before it
split the webhook's figure into its steps (from the store's times of the message and of its run's start).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlmodel import col, select

from bench.common import SERVE, exit_on_sigterm, host_env, percentile, stop_host, wait_for_log
from inbox import Inbox
from inbox.store.engine import read_transaction
from inbox.store.models import MessageIn, Run
from scripts.fake_provider.server import FakeProvider, RecordedRequest, Scripted, ScriptedReply

GOAL_HOOK_P99_MS = 50.0
GOAL_DROP_P99_S = 2.0
TOKEN = "bench-hooks-token"
SETTLE_S = 0.05
TIMEOUT_S = 30.0
DROP_EVERY_S = 0.1


class Arrivals:
    """When the fake provider received each model request."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.seen = threading.Condition()

    def __call__(self, _request: RecordedRequest) -> Scripted:
        with self.seen:
            self.times.append(time.time())
            self.seen.notify_all()
        return ScriptedReply("ok")

    def wait_for(self, count: int) -> None:
        with self.seen:
            if not self.seen.wait_for(lambda: len(self.times) >= count, timeout=TIMEOUT_S):
                raise TimeoutError(f"model request {count} did not arrive within {TIMEOUT_S:g} s")


def _host(workdir: Path, fake: FakeProvider) -> tuple[dict[str, str], subprocess.Popen[bytes], str]:
    home, log_path = workdir / "home", workdir / "serve.log"
    env = host_env(
        home,
        OPENAI_BASE_URL=fake.openai_base_url,
        OPENAI_API_KEY="x",
        INBOX_MODEL="fake-model",
        INBOX_API_TOKEN=TOKEN,
        INBOX_SWEEP_INTERVAL="60",
    )
    Inbox(env=env).close()  # creates and migrates the store before the host opens it
    with open(log_path, "wb") as log:
        host = subprocess.Popen([*SERVE, "--listen", "127.0.0.1:0"], env=env, stdout=log, stderr=log)
    wait_for_log(log_path, "drop folder: watching", host)
    url = re.findall(r"listening on (http://[\d.]+:\d+)", log_path.read_text())[0]
    return env, host, url


@dataclass(frozen=True)
class Call:
    began: float  # just before the call was sent
    answered: float  # its 202 received
    committed: float  # its message's created_at (the event and the message committed)
    claimed: float  # its run's started_at (the runner's claim took it)
    asked: float  # the fake provider received the model request

    def stages(self) -> dict[str, float]:
        """Milliseconds of each step, for where the time goes."""
        return {
            "call to commit": (self.committed - self.began) * 1000,
            "call to 202": (self.answered - self.began) * 1000,
            "commit to claim": (self.claimed - self.committed) * 1000,
            "claim to model request": (self.asked - self.claimed) * 1000,
        }


def measure_hooks(calls: int, env: dict[str, str], url: str, arrivals: Arrivals) -> list[Call]:
    """Each call, from just before it was sent to its model request, warm runner."""
    with Inbox(env=env) as inbox:
        secret = inbox.create_hook("bench", message=True).secret
    sent: list[tuple[float, float, str, float]] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=30) as http:
        for i in range(calls + 1):  # the first starts the runner (cold) and is not counted
            before = len(arrivals.times)
            began = time.time()
            answer = http.post("/v1/hooks/bench", content=f"call {i}".encode())
            answered = time.time()
            if answer.status_code != 202:
                raise RuntimeError(f"call {i}: {answer.status_code} {answer.text}")
            arrivals.wait_for(before + 1)
            if i:
                sent.append((began, answered, answer.json()["message_id"], arrivals.times[before]))
            time.sleep(SETTLE_S)
    with Inbox(env=env) as inbox, read_transaction(inbox.engine) as db:
        ids = [message_id for _, _, message_id, _ in sent]
        made = {m.id: m.created_at.timestamp() for m in db.exec(select(MessageIn).where(col(MessageIn.id).in_(ids)))}
        runs = db.exec(select(Run).where(col(Run.message_id).in_(ids), Run.attempt == 1)).all()
        started = {run.message_id: run.started_at.timestamp() for run in runs}
    return [Call(began, answered, made[m], started[m], asked) for began, answered, m, asked in sent]


def measure_drop(files: int, env: dict[str, str], *, moved_in: bool) -> list[float]:
    """Seconds from each file's rename into the drop folder to its message's ``created_at``."""
    home = Path(env["INBOX_HOME"])
    staging = home / "staging"
    staging.mkdir(exist_ok=True)
    kind = "old" if moved_in else "new"
    renamed: dict[str, float] = {}
    for i in range(files):
        text = f"{kind} file {i}"
        source = staging / f"{kind}-{i}.txt"
        source.write_text(text)
        if moved_in:
            os.utime(source, (time.time() - 10, time.time() - 10))
        renamed[text] = time.time()
        os.rename(source, home / "drop" / source.name)
        time.sleep(DROP_EVERY_S)
    with Inbox(env=env) as inbox:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            with read_transaction(inbox.engine) as db:
                query = select(MessageIn).where(col(MessageIn.created_by) == "drop")
                made = {m.content["text"]: m.created_at.timestamp() for m in db.exec(query).all()}
            if all(text in made for text in renamed):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(set(renamed) - set(made))} files did not become messages")
            time.sleep(0.1)
    return sorted(made[text] - at for text, at in renamed.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hooks", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="webhook calls timed (default 200)")
    parser.add_argument("--files", type=int, default=100, help="files dropped, of each kind (default 100)")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.files < 1:
        parser.error("--calls and --files must be at least 1")
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-hooks-"))
    arrivals = Arrivals()
    try:
        with FakeProvider() as fake:
            fake.respond_with(arrivals)
            env, host, url = _host(workdir, fake)
            try:
                calls = measure_hooks(args.calls, env, url, arrivals)
                fresh = measure_drop(args.files, env, moved_in=False)
                old = measure_drop(args.files, env, moved_in=True)
            finally:
                stop_host(host)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    hooks = sorted((call.asked - call.began) * 1000 for call in calls)
    for stage in calls[0].stages():
        values = sorted(call.stages()[stage] for call in calls)
        print(f"  {stage}: p50={percentile(values, 50):.1f}ms p99={percentile(values, 99):.1f}ms")
    hook_p99, drop_p99 = percentile(hooks, 99), max(percentile(fresh, 99), percentile(old, 99))
    parts = [
        f"webhook to model request p50={percentile(hooks, 50):.1f}ms p99={hook_p99:.1f}ms "
        f"(goal p99<={GOAL_HOOK_P99_MS:.0f}ms, n={len(hooks)})",
        f"drop file to message, new file p50={percentile(fresh, 50):.2f}s p99={percentile(fresh, 99):.2f}s, "
        f"moved in p50={percentile(old, 50):.2f}s p99={percentile(old, 99):.2f}s "
        f"(goal p99<={GOAL_DROP_P99_S:.0f}s, n={len(fresh)}+{len(old)})",
    ]
    missed = (["webhook"] if hook_p99 > GOAL_HOOK_P99_MS else []) + (["drop"] if drop_p99 > GOAL_DROP_P99_S else [])
    tail = f" | MISSED: {', '.join(missed)}" if missed else ""
    print(f"hooks: {' | '.join(parts)}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
