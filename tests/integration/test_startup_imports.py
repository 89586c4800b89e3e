"""Opening a store that is already current leaves Alembic unloaded, a host's HTTP application leaves the MCP SDK
unloaded until ``/mcp`` is first asked for, and one that serves only runners (``inbox serve`` without ``--listen``)
leaves the public API and the dashboard unloaded: every command and host is smaller for it."""

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

BUILD_HOST_APP = (
    "import sys; from inbox import Inbox; from sweeper.http.app import make_app; "
    "from sweeper.http.state import HostState; make_app(HostState(inbox=Inbox(sys.argv[1]))); "
    "print(sorted({m.split('.')[0] for m in sys.modules} & {'mcp', 'mcp_types'}))"
)

PUBLIC_ONLY = {"inbox.web", "inbox.http.public", "inbox.http.metrics", "inbox.mcp.mount", "jinja2", "prometheus_client"}
BUILD_RUNNERS_APP = (
    "import sys; from inbox import Inbox; from sweeper.http.app import make_app; "
    "from sweeper.http.state import HostState; make_app(HostState(inbox=Inbox(sys.argv[1])), public=False); "
    f"print(sorted(set(sys.modules) & set({sorted(PUBLIC_ONLY)!r})))"
)


def _modules_after_open(url: str, program: str = OPEN_AND_LIST_MODULES) -> str:
    result = subprocess.run([sys.executable, "-c", program, url], cwd=ROOT, capture_output=True, text=True, timeout=120)
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


def test_a_host_application_leaves_the_mcp_sdk_unloaded_until_mcp_is_asked_for(store_url: str) -> None:
    """tests/integration/test_mcp_http.py asks it, through the same application."""
    Inbox(store_url).close()
    assert _modules_after_open(store_url, BUILD_HOST_APP) == "[]"


def test_an_application_for_runners_only_leaves_the_public_api_and_dashboard_unloaded(store_url: str) -> None:
    """tests/acceptance/test_runner_socket.py has what such a host answers."""
    Inbox(store_url).close()
    assert _modules_after_open(store_url, BUILD_RUNNERS_APP) == "[]"
