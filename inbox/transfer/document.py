"""Export and import: the definitions a store holds, as one versioned JSON document.

::

    {"format": "inbox-export", "version": 1, "exported_at": "...", "inbox": "0.1.0",
     "tasks": [...], "messages": [...]}

An import checks the whole document before writing anything (the first problem is raised as
:class:`InvalidInput` naming its place, ``tasks[3].timezone``), then writes every object the store does not hold
yet in one transaction. Objects it holds already (same key) are left as they are, so importing a file twice adds
nothing the second time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from inbox.enums import AuditAction
from inbox.errors import InvalidInput
from inbox.store import audit
from inbox.store.engine import read_transaction, transaction
from inbox.transfer.registry import FORMAT, SECTIONS, VERSION
from inbox.transfer.section import Item

_ENVELOPE = frozenset({"format", "version", "exported_at", "inbox"})


@dataclass(frozen=True)
class Counts:
    added: int
    present: int  # already in the store: left as it was


def export_document(engine: Engine, *, now: datetime) -> dict[str, Any]:
    from inbox import __version__

    document: dict[str, Any] = {"format": FORMAT, "version": VERSION, "exported_at": now.isoformat()}
    document["inbox"] = __version__
    with read_transaction(engine) as db:  # one snapshot: every section as of the same moment
        for section in SECTIONS:
            document[section.name] = [item.model_dump(mode="json") for item in section.dump(db)]
    return document


def parse(text: str | bytes) -> dict[str, list[Item]]:
    """The document's objects, every one checked; nothing is read from or written to a store."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as bad:
        raise InvalidInput("file", f"is not JSON: {bad}") from None
    return check_document(document)


def check_document(document: object) -> dict[str, list[Item]]:
    if not isinstance(document, Mapping):
        raise InvalidInput("file", f"must hold a JSON object, not {type(document).__name__}")
    if document.get("format") != FORMAT:
        raise InvalidInput("format", f"must be {FORMAT!r} (got {document.get('format')!r}): not an inbox export")
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= VERSION:
        later = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
        newer = "; it was made by a newer release: upgrade inbox to import it" if later else ""
        readable = "1" if VERSION == 1 else f"1 to {VERSION}"
        raise InvalidInput("version", f"{version!r} is not a version this release reads ({readable}){newer}")
    known = {section.name: section for section in SECTIONS}
    for name in document:
        if name not in known and name not in _ENVELOPE:
            raise InvalidInput(name, f"not a section this release knows ({', '.join(known)}); nothing was imported")
    checked: dict[str, list[Item]] = {}
    for section in SECTIONS:
        raw = document.get(section.name, [])
        if not isinstance(raw, list):
            raise InvalidInput(section.name, f"must be a list, not {type(raw).__name__}")
        items = [section.check(value, index) for index, value in enumerate(raw)]
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            key = section.key(item)
            if key in seen:
                first = f"{section.name}[{seen[key]}]"
                raise InvalidInput(f"{section.name}[{index}]", f"{key} is there twice (also {first})")
            seen[key] = index
        checked[section.name] = items
    return checked


def import_checked(
    engine: Engine, checked: Mapping[str, list[Item]], *, now: datetime, actor: str
) -> dict[str, Counts]:
    """Write what the store does not hold yet, all in one transaction with its audit record (``store.import``: how
    many of each section were added, and which were there already); say what was added and what was there."""
    counts: dict[str, Counts] = {}
    with transaction(engine) as db:
        for section in SECTIONS:
            items = checked.get(section.name, [])
            there = section.present(db, [section.key(item) for item in items])
            new = [item for item in items if section.key(item) not in there]
            section.write(db, new, now)
            counts[section.name] = Counts(added=len(new), present=len(items) - len(new))
        added = {name: {"added": c.added, "present": c.present} for name, c in counts.items() if c.added or c.present}
        audit.record(db, actor=actor, action=AuditAction.STORE_IMPORT, subject=audit.STORE, now=now, after=added)
    return counts
