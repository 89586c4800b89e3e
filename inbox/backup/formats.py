"""The kinds of backup file, and telling them apart by their first bytes (never by the file's name)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from inbox.errors import InvalidInput

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
JSON_FORMAT = "inbox-backup"  # the "format" of a json backup's first line
JSON_VERSION = 1


class BackupFormat(StrEnum):
    SQLITE = "sqlite"
    PG_DUMP = "pg_dump"
    JSON = "json"


def detect(path: Path) -> BackupFormat:
    if not path.is_file():
        raise InvalidInput("FILE", f"no such file: {path}")
    with path.open("rb") as handle:
        start = handle.read(64)
    if start.startswith(SQLITE_MAGIC):
        return BackupFormat.SQLITE
    if start.startswith(PG_DUMP_MAGIC):
        return BackupFormat.PG_DUMP
    if start.lstrip().startswith(b"{") and JSON_FORMAT.encode() in start:
        return BackupFormat.JSON
    raise InvalidInput("FILE", f"{path} is not a backup inbox can restore (a SQLite file, a pg_dump or a json backup)")
