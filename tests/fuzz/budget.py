"""How hard the fuzz tests try: a small fixed budget in the normal suite, more with ``INBOX_FUZZ_EXAMPLES``.

The normal suite is derandomized, so a run is repeatable and CI sees the same inputs every time; a long run
(``INBOX_FUZZ_EXAMPLES=N``) draws fresh random inputs and keeps what it found in Hypothesis' example database.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES_VAR = "INBOX_FUZZ_EXAMPLES"


def long_run() -> bool:
    return bool(os.environ.get(EXAMPLES_VAR))


def examples(default: int) -> int:
    """``default`` in the normal suite; the number ``INBOX_FUZZ_EXAMPLES`` names for a long run."""
    raw = os.environ.get(EXAMPLES_VAR, "")
    if not raw:
        return default
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"{EXAMPLES_VAR}={raw!r}: must be a whole number of examples") from None
    if count < 1:
        raise ValueError(f"{EXAMPLES_VAR}={raw!r}: must be at least 1")
    return count


def fuzz_settings(default_examples: int) -> settings:
    return settings(
        max_examples=examples(default_examples),
        deadline=None,  # real processes and a real database: timing varies, and slowness is not a finding here
        derandomize=not long_run(),
        database=settings().database if long_run() else None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
        print_blob=True,
    )
