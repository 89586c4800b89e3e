"""Writing a file whole or not at all: into a temporary file beside it, renamed over it once complete.

A backup or export cut short (a full disk, Ctrl-C) then leaves the previous file, never half of a new one. The
file is private to its owner (0600): it holds prompts, scripts, and with a backup the whole store.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from inbox.errors import InvalidInput


@contextmanager
def replacing(path: Path, *, field: str = "FILE") -> Iterator[Path]:
    """A temporary path to write to; renamed to ``path`` when the block ends, removed if it raises."""
    folder = path.parent
    if not folder.is_dir():
        raise InvalidInput(field, f"the folder {folder} does not exist")
    if path.is_dir():
        raise InvalidInput(field, f"{path} is a folder")
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
