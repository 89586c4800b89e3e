#!/usr/bin/env python3
"""Pre-script: wake the agent when a measured number crosses a threshold.

Configuration (environment variables, or the defaults at the top of a copy of this file):
  VALUE_COMMAND  a shell command (run with bash) whose output holds the number, e.g. "df --output=pcent / | tail -1"
  VALUE_FILE     or a file holding the number, e.g. /sys/class/thermal/thermal_zone0/temp (set exactly one of the two)
  THRESHOLD      required; the number to compare with.
  OP             optional; one of >, >=, <, <= (default >). The test is: value OP threshold.

The value is the last number found in the output or file ("load: 3.2" gives 3.2, "85%" gives 85, "-4.5e3" gives
-4500). Wakes when the comparison holds; data is {"value", "threshold", "op"} either way.
A failing command, an unreadable file or output without a number exits with code 1 (a script_error); missing or
invalid configuration exits with code 2. Standard library only.
"""

from __future__ import annotations

import json
import math
import operator
import os
import re
import subprocess
import sys
from collections.abc import Callable
from typing import NoReturn

# Configuration: the environment, or fill in the defaults here in a copy of this file.
VALUE_COMMAND = os.environ.get("VALUE_COMMAND", "").strip()
VALUE_FILE = os.environ.get("VALUE_FILE", "").strip()
THRESHOLD = os.environ.get("THRESHOLD", "").strip()
OP = os.environ.get("OP", "").strip() or ">"

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
# A sign counts only when it does not follow a letter, digit or dot: in "2024-01-05" the numbers are 2024, 01, 05.
NUMBER = re.compile(r"(?:(?<![\w.])[-+])?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)


def fail(message: str, code: int) -> NoReturn:
    print(f"above_threshold: {message}", file=sys.stderr)
    sys.exit(code)


def to_number(text: str) -> int | float:
    """An int when the text is one, else a finite float; ValueError otherwise (also for nan and inf)."""
    try:
        return int(text)
    except ValueError:
        number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"not a finite number: {text}")
    return number


def read_source() -> tuple[str, str]:
    command, path = VALUE_COMMAND, VALUE_FILE
    if bool(command) == bool(path):
        fail("set exactly one of VALUE_COMMAND or VALUE_FILE", 2)
    if path:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return fh.read(1 << 20), f"VALUE_FILE {path}"
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}", 1)
    try:
        done = subprocess.run(["bash", "-c", command], stdin=subprocess.DEVNULL, capture_output=True, check=False)
    except OSError as exc:
        fail(f"cannot run VALUE_COMMAND: {exc.strerror or exc}", 1)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode("utf-8", errors="replace")[-2000:])
        fail(f"VALUE_COMMAND failed with exit code {done.returncode}", 1)
    return done.stdout.decode("utf-8", errors="replace"), "output of VALUE_COMMAND"


def main() -> None:
    op = OP
    if op not in OPS:
        fail(f"OP must be one of {', '.join(OPS)}, got {op!r}", 2)
    raw_threshold = THRESHOLD
    if not raw_threshold:
        fail("set THRESHOLD to the number to compare with", 2)
    try:
        threshold = to_number(raw_threshold)
    except ValueError:
        fail(f"THRESHOLD is not a number: {raw_threshold!r}", 2)

    text, source = read_source()
    found = NUMBER.findall(text)
    if not found:
        fail(f"no number in {source}: {text.strip()[:200]!r}", 1)
    try:
        value = to_number(found[-1])
    except ValueError:
        fail(f"number out of range in {source}: {found[-1]}", 1)
    wake = OPS[op](value, threshold)
    print(json.dumps({"wakeAgent": wake, "data": {"value": value, "threshold": threshold, "op": op}}))


if __name__ == "__main__":
    main()
