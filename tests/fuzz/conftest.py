"""A served host per test, on the backend under test (see tests/conftest.py for ``backend``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.acceptance.served import serving
from tests.fuzz.served_api import ApiHost, start_api_host


@pytest.fixture
def api_host(backend: str, store_url: str, home: Path) -> Iterator[ApiHost]:
    with serving(home, store_url if backend == "postgres" else None) as served:
        yield start_api_host(served)
        served.stop_hosts()
