"""The drop folder (docs/drop-folder.md): files in ``$INBOX_HOME/drop/`` and ``drop/SESSION/`` become messages.

One file at a time: read it once it is complete (its modification time at least :data:`SETTLE_S` old, and the same
after the read as before), write what it becomes together with its ingestion key (a digest of its place in the
folder, size and modification time) in one transaction, then move it to ``drop/.done/``. A host that dies between
the commit and the move finds the key on its next look and only moves the file; two hosts that read one file at
once both try to write the key, and the store's unique key lets one of them through. A file that cannot become a
message moves to ``drop/.failed/`` with ``NAME.error`` beside it saying why; nothing is written for it.

The folder is only ever ``$INBOX_HOME/drop``: nothing a message or a task says can point it elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from inbox.api import Inbox
from inbox.errors import InvalidInput
from inbox.store.engine import one_transaction
from inbox.store.trigger_tables import DropIngested
from inbox.validation import session_name

log = logging.getLogger("inbox.drop")
FOLDER = "drop"
DONE = ".done"
FAILED = ".failed"
MAX_FILE = 1 << 20  # like a webhook's body
SETTLE_S = 1.0  # a file unchanged this long is complete (one renamed into place usually is already)
TEXT_SUFFIXES = (".txt", ".md")
ACTOR = "drop"
# Tests only: seconds to wait between writing a file's message and moving the file (to kill the host there).
PAUSE_VAR = "INBOX_DROP_TEST_PAUSE_S"


class Fate(StrEnum):
    WRITTEN = "written"  # it became a message or an event, and moved to .done
    ALREADY = "already"  # ingested before (by this host before a crash, or by another): moved to .done
    FAILED = "failed"  # moved to .failed with its reason
    WAITING = "waiting"  # not complete yet, or gone meanwhile: looked at again later


@dataclass(frozen=True)
class Found:
    """A file of the folder and the session its place gives it."""

    path: Path
    session: str | None  # None: the folder itself (messages go to "main", events reach every session)
    problem: str | None = None  # why it cannot be taken, known before reading it


def folder(inbox: Inbox) -> Path:
    return inbox.settings.home / FOLDER


def prepare(root: Path) -> None:
    """Make the folder and its .done and .failed (this user's only); a link in their place is refused."""
    for path in (root, root / DONE, root / FAILED):
        if path.is_symlink():
            raise InvalidInput("drop", f"{path} is a symbolic link; the drop folder must be a folder of its own")
    for path in (root, root / DONE, root / FAILED):
        path.mkdir(mode=0o700, parents=True, exist_ok=True)


def scan(root: Path) -> list[Found]:
    """The files of ``drop/`` and of its session folders, oldest name first; hidden names (``.x``, where a
    writer keeps a file until it renames it into place) are left alone."""
    found: list[Found] = []
    for entry in sorted(os.scandir(root), key=lambda e: e.name) if root.is_dir() else []:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            found.extend(_session_files(Path(entry.path), entry.name))
        else:
            found.append(Found(Path(entry.path), None))
    return found


def _session_files(path: Path, name: str) -> list[Found]:
    try:
        session_name(name)
        problem = None
    except InvalidInput as exc:
        problem = f"the folder {name!r} names no session: {exc.reason}"
    files = sorted((e for e in os.scandir(path) if not e.name.startswith(".")), key=lambda e: e.name)
    return [Found(Path(e.path), name, problem if problem else _not_a_file(e)) for e in files]


def _not_a_file(entry: os.DirEntry[str]) -> str | None:
    return "is a folder; a session folder holds files only" if entry.is_dir(follow_symlinks=False) else None


def consume(inbox: Inbox, root: Path, *, settle_s: float = SETTLE_S) -> list[tuple[Path, Fate]]:
    """Take every complete file of the folder now (one look: cron mode, and each look of the watcher)."""
    return [(found.path, take(inbox, root, found, settle_s=settle_s)) for found in scan(root)]


def take(inbox: Inbox, root: Path, found: Found, *, settle_s: float = SETTLE_S) -> Fate:
    path = found.path
    try:
        before = path.lstat()
    except FileNotFoundError:
        return Fate.WAITING  # taken by another host
    problem = found.problem or _refusal(before)
    if problem is not None:
        return _fail(root, path, problem)
    if time.time() - before.st_mtime < settle_s:
        return Fate.WAITING
    try:
        raw = _read(path)
        after = path.lstat()
    except FileNotFoundError:
        return Fate.WAITING
    except OSError as exc:
        return _fail(root, path, f"cannot be read: {exc.strerror or exc}")
    if (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns) or len(raw) != after.st_size:
        return Fate.WAITING  # still being written
    key = ingestion_key(root, path, after)
    try:  # the checks a send or an emit makes run inside the transaction: a refusal there rolls it all back
        fate = _ingest(inbox, root, path, key, _parse(path, raw, found.session))
    except InvalidInput as exc:
        return _fail(root, path, f"{exc.field}: {exc.reason}")
    _pause_for_tests()
    _move(root, path, DONE, key)
    return fate


def _refusal(info: os.stat_result) -> str | None:
    if stat.S_ISLNK(info.st_mode):
        return "is a symbolic link; the drop folder takes regular files only"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file"
    if info.st_size > MAX_FILE:
        return f"is {info.st_size} bytes; the limit is {MAX_FILE // 1024} KiB"
    return None


def _read(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # a link put in place meanwhile: refused
    with os.fdopen(fd, "rb") as fh:
        return fh.read(MAX_FILE + 1)


def ingestion_key(root: Path, path: Path, info: os.stat_result) -> str:
    place = path.relative_to(root).as_posix()
    return hashlib.sha256(f"{place}\0{info.st_size}\0{info.st_mtime_ns}".encode()).hexdigest()


Write = Callable[[Inbox], tuple[str | None, str | None]]  # writes, answers (message id, event id)


def _parse(path: Path, raw: bytes, session: str | None) -> Write:
    """What the file becomes, checked before anything is written (InvalidInput naming the field)."""
    suffix = path.suffix.lower()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("file", "is not UTF-8 text") from None
    if suffix in TEXT_SUFFIXES:
        if not text.strip():
            raise InvalidInput("text", "the file is empty")
        return lambda box: (box.send(text, session=session or "main").id, None)
    if suffix != ".json":
        raise InvalidInput("file", f"{path.name!r}: only .txt, .md and .json files are taken")
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise InvalidInput("file", f"is not JSON: {exc}") from None
    if not isinstance(given, dict):
        raise InvalidInput("file", 'must hold a JSON object: {"text": …} or {"event": …}')
    return _parse_object(given, session)


def _parse_object(given: dict[str, Any], session: str | None) -> Write:
    if "event" in given:
        _only(given, {"event", "data", "key"})
        name, data, key = given["event"], given.get("data"), given.get("key")
        if not isinstance(name, str):
            raise InvalidInput("event", "must be a text, the event's name")
        if key is not None and not isinstance(key, str):
            raise InvalidInput("key", "must be a text")
        return lambda box: (None, box.emit(name, data, session=session, key=key).id)
    if "text" not in given:
        raise InvalidInput("file", 'holds neither "text" nor "event"')
    _only(given, {"text", "at", "in", "tz"})
    for field in ("text", "at", "in", "tz"):
        if given.get(field) is not None and not isinstance(given[field], str):
            raise InvalidInput(field, "must be a text")
    text, at, in_, tz = given["text"], given.get("at"), given.get("in"), given.get("tz")
    return lambda box: (box.send(text, session=session or "main", at=at, in_=in_, tz=tz).id, None)


def _only(given: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise InvalidInput(unknown[0], f"is not a field here (allowed: {', '.join(sorted(allowed))})")


def _ingest(inbox: Inbox, root: Path, path: Path, key: str, write: Write) -> Fate:
    """Write what the file becomes and its key in one transaction; ALREADY when the key is taken."""
    box = Inbox(inbox.url, env=inbox.settings.env, actor=ACTOR, engine=inbox.engine, clock=inbox.clock)
    try:
        with one_transaction(inbox.engine) as db:
            if db.get(DropIngested, key) is not None:
                return Fate.ALREADY
            db.add(DropIngested(key=key, path=path.relative_to(root).as_posix(), created_at=inbox.clock()))
            db.flush()  # PostgreSQL: a host writing the same key at once makes this wait, then fail
            message_id, event_id = write(box)
            row = db.get(DropIngested, key)
            assert row is not None
            row.message_id, row.event_id = message_id, event_id
    except IntegrityError:
        return Fate.ALREADY
    log.info("drop folder: %s became %s", path.relative_to(root), message_id or event_id)
    return Fate.WRITTEN


def _pause_for_tests() -> None:
    pause = os.environ.get(PAUSE_VAR)
    if pause:
        time.sleep(float(pause))


def _fail(root: Path, path: Path, reason: str) -> Fate:
    moved = _move(root, path, FAILED, hashlib.sha256(str(path).encode()).hexdigest())
    if moved is not None:
        moved.with_name(moved.name + ".error").write_text(f"{path.relative_to(root)}: {reason}\n")
        log.warning("drop folder: %s refused: %s", path.relative_to(root), reason)
    return Fate.FAILED


def _move(root: Path, path: Path, to: str, key: str) -> Path | None:
    """Move ``path`` into ``root/to`` under its name (a session's file: SESSION-NAME), never over another file.
    None: it was gone (another host moved it)."""
    into = root / to
    into.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = path.name if path.parent == root else f"{path.parent.name}-{path.name}"
    target = into / name
    if target.exists() or target.with_name(name + ".error").exists():
        target = into / f"{path.stem}-{key[:12]}{path.suffix}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None
    return target
