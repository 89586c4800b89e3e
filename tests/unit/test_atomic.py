"""A backup or export is written whole or not at all, and readable by its owner only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from inbox.atomic import replacing
from inbox.errors import InvalidInput


def test_a_write_that_fails_leaves_the_previous_file_and_no_part(tmp_path: Path) -> None:
    target = tmp_path / "backup.db"
    target.write_text("yesterday's backup")
    with pytest.raises(OSError), replacing(target) as part:
        part.write_text("half of today's")
        raise OSError("No space left on device")
    assert target.read_text() == "yesterday's backup"
    assert [p.name for p in tmp_path.iterdir()] == ["backup.db"]


def test_a_complete_write_replaces_the_file_and_is_private(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_text("old")
    target.chmod(0o644)
    with replacing(target) as part:
        part.write_text("new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_missing_folder_is_refused_naming_the_file_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as refused, replacing(tmp_path / "nowhere" / "b.db"):
        pass
    assert refused.value.field == "FILE"
