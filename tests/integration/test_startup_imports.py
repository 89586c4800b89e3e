"""Opening a store that is already current leaves Alembic unloaded: every command and host is smaller for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import create_engine

from inbox import Inbox
from inbox.store.migrate import current_revision, head_revision

ROOT = Path(__file__).resolve().parents[2]
OPEN_AND_LIST_MODULES = (
    "import sys; from inbox import Inbox; inbox = Inbox(sys.argv[1]); inbox.schedule('x', every='1h'); "
    "print(sorted({m.split('.')[0] for m in sys.modules} & {'alembic', 'mako', 'pygments'}))"
)


def _modules_after_open(url: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", OPEN_AND_LIST_MODULES, url], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_head_read_from_the_files_is_alembics(store_url: str) -> None:
    from inbox.store.migrate import declared_head

    engine = create_engine(store_url)
    assert declared_head() is not None
    assert declared_head() == head_revision(engine)
    engine.dispose()


def test_opening_a_current_store_does_not_import_alembic(store_url: str) -> None:
    Inbox(store_url).close()  # creates and migrates: Alembic is needed here
    engine = create_engine(store_url)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
    assert _modules_after_open(store_url) == "[]"


def test_opening_a_new_store_still_migrates_it(store_url: str) -> None:
    assert _modules_after_open(store_url) == "['alembic', 'mako', 'pygments']"
    engine = create_engine(store_url)
    assert current_revision(engine) == head_revision(engine)
    engine.dispose()
