"""CLI start-up benchmark: the wall time of short ``inbox`` commands, each a new process, as a user or script runs them.

``python -m bench.cli_startup [--runs 15] [--series 100] [--against DIR]`` makes a fresh ``INBOX_HOME`` (SQLite)
with ``--series`` tasks (cron, through the Python API), then times ``inbox --help``, ``inbox tasks --json`` and
``inbox tasks`` (the table: a full first page of 100 rows at the default), ``inbox schedule ... --json`` (a one-shot
task far ahead: one row more per start) and ``inbox next --every 1h --json`` (no store), and ``python -c pass`` as
the floor no command can go below. With ``--against DIR`` (another checkout, e.g.
``git worktree add /tmp/before main``) the same commands run from that code too, interleaved run by run with this
one so a change in the machine's load touches both alike; each side gets a store of its own.

Bytecode is compiled once, before timing, into a cache folder of the run (``PYTHONPYCACHEPREFIX``), as an installed
package has it; a first start compiling every module would time the compiler. The figure of each command is the
median of ``--runs`` starts, in wall time and in CPU time (user + system of the process, which other load on the
machine moves less than the wall time). The last line printed is the headline. See docs/benchmarks.md ("CLI start-up").
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import percentile

GOAL_MS = 250.0
ROOT = Path(__file__).resolve().parent.parent
ENTRY = "import sys; from inbox.cli.main import run; sys.exit(run())"  # what the installed script runs
COMMANDS: dict[str, list[str]] = {
    "inbox --help": ["--help"],
    "inbox tasks --json": ["tasks", "--json"],
    "inbox tasks": ["tasks"],
    "inbox schedule --json": ["schedule", "stretch", "--at", "2099-01-01T09:00:00Z", "--json"],
    "inbox next --json": ["next", "--every", "1h", "--json"],
}
FLOOR = "python3 -c pass"


@dataclass(frozen=True)
class Side:
    """One checkout of the code, with its own store and bytecode cache."""

    name: str
    source: Path
    home: Path

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_") and k != "TZ"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env |= {"PYTHONPATH": str(self.source), "PYTHONPYCACHEPREFIX": str(self.home / "pycache")}
        return env | {"INBOX_HOME": str(self.home / "home"), "INBOX_TZ": "UTC"}

    def run(self, args: Sequence[str]) -> Start:
        """``inbox ARGS`` from start to exit; a failure is a wrong result, not a figure."""
        # The working folder is the store's: ``-c`` puts it first on the path, and it must not hold a package.
        return _timed([sys.executable, "-c", ENTRY, *args], self.env(), self.home, f"{self.name}: inbox")


@dataclass(frozen=True)
class Start:
    wall_s: float
    cpu_s: float


def _cpu_of_children() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _timed(command: list[str], env: dict[str, str] | None, cwd: Path, label: str) -> Start:
    cpu, began = _cpu_of_children(), time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"{label} {' '.join(command[3:])} exited {done.returncode}: {done.stderr}")
    return Start(wall, _cpu_of_children() - cpu)  # one child at a time: the difference is this one's


def _floor(home: Path) -> Start:
    return _timed([sys.executable, "-c", "pass"], None, home, "python3 -c pass")


def _prepared(name: str, source: Path, folder: Path, series: int) -> Side:
    side = Side(name, source, folder / name)
    side.home.mkdir()
    for args in COMMANDS.values():  # creates the store and compiles every module the commands load
        side.run(args)
    # The series in one process (a command each would take a second each), with that checkout's own API.
    script = (
        "from inbox import Inbox\n"
        "with Inbox() as inbox:\n"
        f"    for i in range({series}): inbox.schedule(f'task {{i}}', cron=f'{{i % 60}} {{i % 24}} * * *')"
    )
    _timed([sys.executable, "-c", script], side.env(), side.home, f"{name}: adding series")
    return side


def _line(label: str, starts: list[Start]) -> str:
    wall = sorted(start.wall_s * 1000 for start in starts)
    cpu = statistics.median(start.cpu_s * 1000 for start in starts)
    return (
        f"  {label:<24} wall median {statistics.median(wall):7.1f} ms  p90 {percentile(wall, 90):7.1f} ms  "
        f"min {wall[0]:7.1f} ms   cpu median {cpu:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="starts of each command (default 15)")
    parser.add_argument("--series", type=int, default=100, help="tasks in each store (default 100)")
    parser.add_argument("--against", type=Path, help="another checkout to time side by side (e.g. main)")
    opts = parser.parse_args()
    if opts.runs < 1 or opts.series < 0:
        parser.error("--runs must be at least 1, --series at least 0")
    if opts.against is not None and not (opts.against / "inbox" / "cli" / "main.py").is_file():
        parser.error(f"--against {opts.against}: not a checkout of inbox")
    folder = Path(tempfile.mkdtemp(prefix="inbox-cli-startup-"))
    try:
        sides = [_prepared("this", ROOT, folder, opts.series)]
        if opts.against is not None:
            sides.append(_prepared("against", opts.against.resolve(), folder, opts.series))
        times: dict[tuple[str, str], list[Start]] = {}
        floor: list[Start] = []
        for _ in range(opts.runs):
            floor.append(_floor(folder))
            for label, args in COMMANDS.items():
                for side in sides:
                    times.setdefault((side.name, label), []).append(side.run(args))
        print(f"cli start-up, {opts.runs} runs each, SQLite store with {opts.series} tasks, bytecode compiled:")
        print(_line(FLOOR, floor))
        for side in sides:
            print(f" {side.name} ({side.source}):")
            for label in COMMANDS:
                print(_line(label, times[(side.name, label)]))
        medians = {label: statistics.median(s.wall_s for s in times[("this", label)]) * 1000 for label in COMMANDS}
        headline = ", ".join(f"{label} {ms:.0f} ms" for label, ms in medians.items())
        bottom = statistics.median(s.wall_s for s in floor) * 1000
        print(f"cli start-up: {headline}; floor {bottom:.0f} ms (goal <= {GOAL_MS:.0f} ms, wall medians)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
