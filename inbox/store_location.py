"""Where the store is, read without the settings' model (pydantic-settings costs a short command a tenth of a second
and more): for ``inbox tasks`` read with ``sqlite3`` (inbox.cli.quick_tasks).

It answers only when :func:`inbox.config.load_settings` would surely find the same store and accept every value:
the default SQLite store ``$INBOX_HOME/inbox.db``, no ``INBOX_DATABASE_URL``, and nothing set (in the environment
or ``$INBOX_HOME/.env``, read by the same parser) that the settings check and could refuse. Otherwise None, and the
command takes the full path, which reads the settings (and refuses a bad value) as every command does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

# The variables the settings take as plain text: no value of them can be refused. Every other INBOX_ variable is
# checked (a number, a duration, a choice…), or unknown: either way the full path decides. The settings' variables
# that do not start with INBOX_ are all plain text (a test holds both to inbox.config.Settings).
PLAIN = frozenset(
    {
        "INBOX_HOME",  # from the environment only: the settings are told it, and ignore it in the file
        "INBOX_TZ",
        "INBOX_API_TOKEN",
        "INBOX_RUNNER_IMAGE",
        "INBOX_CONTAINER_MEMORY",
        "INBOX_MODEL",
    }
)
DATABASE_URL = "INBOX_DATABASE_URL"


def inbox_home(environ: Mapping[str, str]) -> Path:
    """``INBOX_HOME`` (from the environment only: it says where ``.env`` is), else ``~/.inbox``."""
    return Path(environ.get("INBOX_HOME") or Path.home() / ".inbox").expanduser()


def _file_variables(path: Path) -> Mapping[str, str | None] | None:
    """``.env`` as the settings read it (python-dotenv, UTF-8), {} without one; None when it cannot be read."""
    if not path.exists():
        return {}
    if not path.is_file():
        return None  # a FIFO (which the settings would read) or something stranger: the full path decides
    from dotenv import dotenv_values

    try:
        return dotenv_values(path, encoding="utf8")
    except (OSError, UnicodeError):
        return None


def plain_sqlite_store(environ: Mapping[str, str]) -> Path | None:
    """The default SQLite store's file when the settings hold nothing this reading cannot vouch for, else None."""
    home = inbox_home(environ)
    in_file = _file_variables(home / ".env")
    if in_file is None:
        return None
    for source in (environ, in_file):
        for name, value in source.items():
            if value == "":
                continue  # an empty value counts as unset
            if name == DATABASE_URL or (name.startswith("INBOX_") and name not in PLAIN):
                return None
    return home / "inbox.db"
