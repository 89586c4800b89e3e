"""The ``json`` backup: one JSON object per line, so a store of any size is written and read a row at a time.

::

    {"format": "inbox-backup", "version": 1, "revision": "0007", "made_at": "...", "backend": "sqlite"}
    {"table": "messages_in", "row": {"id": "01...", "process_after": "2026-06-01T09:00:00", ...}}
    ...
    {"end": {"messages_in": 15, "runs": 7, ...}}

Instants are UTC without an offset, as the store keeps them. The last line counts the rows of each table: a file
cut short has none and is refused before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from inbox.backup.formats import JSON_FORMAT, JSON_VERSION
from inbox.backup.revisions import check_revision, schema_at
from inbox.backup.rows import as_json, problem, rows_of, snapshot, store_tables, stored_revision
from inbox.errors import InvalidInput


def write(engine: Engine, path: Path, *, now: datetime) -> dict[str, int]:
    counts: dict[str, int] = {}
    with snapshot(engine) as conn, path.open("w", encoding="utf-8") as out:
        header = {"format": JSON_FORMAT, "version": JSON_VERSION, "revision": stored_revision(conn)}
        header |= {"made_at": now.isoformat(), "backend": engine.dialect.name}
        out.write(json.dumps(header) + "\n")
        for table in store_tables(conn):
            counts[table.name] = 0
            for row in rows_of(conn, table):
                line = {"table": table.name, "row": {key: as_json(value) for key, value in row.items()}}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                counts[table.name] += 1
        out.write(json.dumps({"end": counts}) + "\n")
    return counts


def _lines(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                yield number, json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise InvalidInput("FILE", f"line {number} is not JSON") from None


def check(path: Path) -> tuple[str, dict[str, int]]:
    """Read the whole file once and refuse it at its first problem; its revision and row counts when sound."""
    lines = _lines(path)
    header = next(lines, (1, None))[1]
    if not isinstance(header, dict) or header.get("format") != JSON_FORMAT:
        raise InvalidInput("FILE", "line 1 is not the header of an inbox json backup")
    if header.get("version") != JSON_VERSION:
        raise InvalidInput(
            "FILE", f"a json backup of version {header.get('version')!r}; this release reads {JSON_VERSION}"
        )
    revision = check_revision(header.get("revision"))
    tables = schema_at(revision).tables
    columns = {name: {column.name: column for column in table.columns} for name, table in tables.items()}
    counts: dict[str, int] = {}
    end: Any = None
    for number, line in lines:
        if end is not None:
            raise InvalidInput("FILE", f"line {number} comes after the last line")
        if isinstance(line, dict) and set(line) == {"end"}:
            end = line["end"]
            continue
        table = _row(number, line, columns)
        counts[table] = counts.get(table, 0) + 1
    if end is None:
        raise InvalidInput("FILE", "it ends before its last line: the file was cut short")
    if {name: count for name, count in end.items() if count} != counts:
        raise InvalidInput("FILE", f"its last line counts {end} rows, the file holds {counts}")
    return revision, counts


def _row(number: int, line: Any, columns: dict[str, dict[str, Any]]) -> str:
    if not isinstance(line, dict) or set(line) != {"table", "row"} or not isinstance(line["row"], dict):
        raise InvalidInput("FILE", f'line {number} is not a row ({{"table": ..., "row": {{...}}}})')
    table = line["table"]
    if table not in columns:
        raise InvalidInput("FILE", f"line {number}: no table {table!r} at this revision")
    for key, value in line["row"].items():
        if key not in columns[table]:
            raise InvalidInput("FILE", f"line {number}: {table} has no column {key!r}")
        wrong = problem(columns[table][key].type, value)
        if wrong is not None:
            raise InvalidInput("FILE", f"line {number}: {table}.{key}: {wrong}")
    for name, column in columns[table].items():
        needed = not column.nullable and column.server_default is None
        if needed and line["row"].get(name) is None:
            raise InvalidInput("FILE", f"line {number}: {table}.{name} is missing")
    return str(table)


def rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The rows of a file :func:`check` accepted."""
    for _number, line in _lines(path):
        if isinstance(line, dict) and "table" in line:
            yield line["table"], line["row"]


def revision_of(path: Path) -> str:
    header = next(_lines(path))[1]
    return str(header["revision"])
