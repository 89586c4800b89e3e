"""Prompt tokens per run over the runs of one series, in each context mode (``fresh``, ``series``, ``session``).

``python -m bench.tokens [--runs 100]``

A real ``inbox serve`` (SQLite, process runtime) and the fake model provider in this process. Three tasks, one per
mode, each in a session of its own, every second for ``--runs`` runs. The fake provider counts a request's input
tokens as its JSON's length / 4 (about four characters a token, as the host estimates) and answers each run with
about 150 tokens of text, so a history grows by about 170 tokens a run; the host's history budget
(``INBOX_HISTORY_TOKENS``, 8,000 estimated tokens) makes it summarize the older turns once it would be outgrown.
The figures are each run's ``input_tokens`` as the host recorded them (a summary call counts toward its run).

Goals: ``fresh`` constant; ``series`` and ``session`` bounded: no model request carries more than the budget
above what ``fresh`` sends, give or take the JSON framing of the turns (the budget counts their text: up to
:data:`FRAMING` more). A run that summarizes makes two requests, so its total is about twice that.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import SERVE, exit_on_sigterm, host_env, stop_host, wait_for_log
from inbox import Inbox
from scripts.fake_provider.server import FakeProvider, RecordedRequest, Scripted, ScriptedReply

MODES = ("fresh", "series", "session")
BUDGET = 8000  # INBOX_HISTORY_TOKENS' default (docs/agent.md)
ANSWER = "Here is what changed since the last look: " + "three pull requests moved, one was merged. " * 14
FRAMING = 0.10  # the JSON around each turn (role, keys, quotes), which the history budget does not count
SHOWN = (1, 2, 5, 10, 25, 50, 75, 100, 150, 200, 300, 500)


class Answers:
    """Answers every model request, counting its input tokens (its JSON's length / 4)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, request: RecordedRequest) -> Scripted:
        sent = json.dumps(request.json) if isinstance(request.json, dict) else str(request.json)
        self.sizes.append(len(sent) // 4)
        return ScriptedReply(ANSWER, input_tokens=len(sent) // 4, output_tokens=len(ANSWER) // 4)


def measure(runs: int, workdir: Path) -> tuple[dict[str, list[int]], list[int]]:
    """Each mode's input tokens per run, in run order, and the input tokens of every model request."""
    answers = Answers()
    with FakeProvider() as fake:
        fake.respond_with(answers)
        env = host_env(
            workdir / "home",
            OPENAI_BASE_URL=fake.openai_base_url,
            OPENAI_API_KEY="x",
            INBOX_MODEL="fake-model",
            INBOX_SWEEP_INTERVAL="60",
            INBOX_SERIES_DAILY_TOKENS="1000000000",  # the daily budget would pause a series before its 100th run
        )
        series: dict[str, str] = {}
        with Inbox(env=env) as inbox:
            for mode in MODES:
                made = inbox.schedule(
                    "Check my pull requests and tell me what changed.",
                    every="1s",
                    max_runs=runs,
                    context=mode,
                    session=f"bench-{mode}",
                )
                series[mode] = made.series_id
        log_path = workdir / "serve.log"
        with open(log_path, "wb") as log:
            host = subprocess.Popen(SERVE, env=env, stdout=log, stderr=log)
        try:
            wait_for_log(log_path, "runners connect on", host)
            deadline = time.monotonic() + runs * 3 + 120
            with Inbox(env=env) as inbox:
                while True:
                    done = {mode: inbox.runs(sid, limit=runs * 2) for mode, sid in series.items()}
                    if all(len([r for r in found if r.outcome == "completed"]) >= runs for found in done.values()):
                        break
                    paused = [mode for mode, sid in series.items() if inbox.get(sid).status == "paused"]
                    if paused:
                        raise RuntimeError(f"paused: {paused}: {[inbox.get(series[m]).reason for m in paused]}")
                    if time.monotonic() > deadline:
                        counts = {mode: len(found) for mode, found in done.items()}
                        raise TimeoutError(f"runs did not all complete: {counts}")
                    time.sleep(1.0)
        finally:
            stop_host(host)
        tokens = {
            mode: [r.input_tokens for r in sorted(found, key=lambda r: r.started_at) if r.outcome == "completed"]
            for mode, found in done.items()
        }
        return tokens, answers.sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.tokens", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs of each series (default 100)")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    exit_on_sigterm()
    workdir = Path(tempfile.mkdtemp(prefix="inbox-bench-tokens-"))
    try:
        tokens, requests = measure(args.runs, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    shown = [n for n in SHOWN if n <= args.runs]
    print(f"{'run':<10}" + "".join(f"{n:>8}" for n in shown) + f"{'max':>8}")
    for mode in MODES:
        print(f"{mode:<10}" + "".join(f"{tokens[mode][n - 1]:>8}" for n in shown) + f"{max(tokens[mode]):>8}")
    fresh = tokens["fresh"]
    constant = max(fresh) - min(fresh) <= max(fresh) // 100
    bounded = max(requests) <= max(fresh) + BUDGET * (1 + FRAMING)
    summaries = len(requests) - 3 * args.runs
    missed = (["fresh not constant"] if not constant else []) + (["a request over the budget"] if not bounded else [])
    print(
        f"tokens: fresh {min(fresh)}-{max(fresh)} per run; largest model request {max(requests)} (goal <= fresh + "
        f"{BUDGET} + {FRAMING:.0%}); series and session runs at most {max(tokens['series'])} and "
        f"{max(tokens['session'])} (a run that summarizes makes two requests); {summaries} summary calls over "
        f"{3 * args.runs} runs | " + ("MISSED: " + ", ".join(missed) if missed else "ok")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
