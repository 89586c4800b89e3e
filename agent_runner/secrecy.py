"""Keeping the runner's token out of reach of the shells and scripts it starts.

The token arrives in the runner's environment. Removing it from ``os.environ`` keeps it out of children's
environments, but the kernel still serves the exec-time environment at ``/proc/<pid>/environ``, and a process of
the same user can read the runner's memory through ``/proc/<pid>/mem`` or ptrace. Marking the runner not dumpable
(``PR_SET_DUMPABLE`` 0) makes the kernel refuse all of those to any process without ``CAP_SYS_PTRACE``, which no
process in the container has (every capability dropped, no-new-privileges). The mark holds for the runner's life:
the kernel resets it only on exec or a change of user, and the runner does neither. Children start from a fresh
exec, so they are dumpable again, with an environment holding no token.

A hard core-size limit of 0 keeps a crash (a signal from a script of the same user) from writing the runner's
memory to a core file; the limit cannot be raised again without ``CAP_SYS_RESOURCE``.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys

TOKEN_VARIABLE = "INBOX_RUNNER_TOKEN"
_PR_SET_DUMPABLE = 4
_PR_GET_DUMPABLE = 3


def take_token() -> str | None:
    """The token, removed from this process's environment so nothing started later inherits it."""
    return os.environ.pop(TOKEN_VARIABLE, None)


def seal() -> str | None:
    """Make this process's memory and exec-time environment unreadable to other processes, even of its own user.

    Returns why that could not be done, or None once it is.
    """
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError) as exc:
        return f"cannot forbid core dumps: {exc}"
    if not sys.platform.startswith("linux"):
        return f"no way to hide the process's memory on {sys.platform}"
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            return f"prctl(PR_SET_DUMPABLE) failed: {os.strerror(ctypes.get_errno())}"
        if libc.prctl(_PR_GET_DUMPABLE, 0, 0, 0, 0) != 0:
            return "prctl(PR_SET_DUMPABLE) did not hold"
    except (OSError, AttributeError) as exc:
        return f"prctl unavailable: {exc}"
    return None
