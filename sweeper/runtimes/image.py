"""Building the runner image (``inbox runner build``): the Dockerfile in dockerfiles/, the runner's own code, wheels.

The build context is assembled in a temporary folder: ``runner.Dockerfile``, the ``agent_runner`` package (only
what runs in the container; none of the server stack), and ``wheels/`` (optional: wheels for httpx and pydantic,
for machines whose containers cannot reach a package index).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import agent_runner
from inbox.config import DEFAULT_RUNNER_IMAGE

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = PROJECT_ROOT / "dockerfiles" / "runner.Dockerfile"
DEFAULT_IMAGE = DEFAULT_RUNNER_IMAGE
DEFAULT_BASE = "python:3.12-slim"


def _context(folder: Path, wheels: Path | None) -> None:
    shutil.copy(DOCKERFILE, folder / "Dockerfile")
    shutil.copytree(
        Path(agent_runner.__file__).parent,
        folder / "agent_runner",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    (folder / "wheels").mkdir()
    if wheels is not None:
        for wheel in wheels.glob("*.whl"):
            shutil.copy(wheel, folder / "wheels" / wheel.name)


def build_runner_image(
    client: Any, *, base: str = DEFAULT_BASE, tag: str = DEFAULT_IMAGE, wheels: Path | None = None
) -> str:
    """Build (or, when nothing changed, reuse from the layer cache) the runner image; returns its id."""
    with tempfile.TemporaryDirectory(prefix="inbox-runner-build-") as tmp:
        folder = Path(tmp)
        _context(folder, wheels)
        image, _logs = client.images.build(path=str(folder), tag=tag, buildargs={"BASE": base}, rm=True, pull=False)
        return str(image.id)
