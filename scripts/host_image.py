"""Build the host's image (dockerfiles/host.Dockerfile) from wheels alone, as CI does: no index is reached.

``python3 -m scripts.host_image --base inbox-ci-base --wheels DIR [--tag NAME]``: DIR holds the dependencies'
wheels and ``setuptools`` and ``wheel`` (``pip download --only-binary=:all: -d DIR -r REQUIREMENTS setuptools
wheel``); the project's own wheel is built from this checkout into the build context. The tag defaults to one
derived from the sources, the Dockerfile and the wheels, so an unchanged checkout reuses the image it built.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "dockerfiles" / "host.Dockerfile"
SOURCES = ("pyproject.toml", "README.md", "inbox", "sweeper", "agent_runner", "scripts")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache")


def _files() -> list[Path]:
    found = [DOCKERFILE]
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        else:
            found.append(path)
    return found


def digest(wheels: Path, base: str) -> str:
    """What the image is made of: the sources, the Dockerfile, the wheels' names and the base image's name."""
    hashed = hashlib.sha256(base.encode())
    for path in _files():
        hashed.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    for wheel in sorted(wheels.glob("*.whl")):
        hashed.update(wheel.name.encode())
    return hashed.hexdigest()[:16]


def project_wheel(wheels: Path, out: Path) -> Path:
    """This checkout as a wheel, built from a copy (nothing is written into the checkout), offline."""
    with tempfile.TemporaryDirectory(prefix="inbox-src-") as tmp:
        source = Path(tmp) / "src"
        source.mkdir()
        for name in SOURCES:
            path = ROOT / name
            if path.is_dir():
                shutil.copytree(path, source / name, ignore=_IGNORE)
            else:
                shutil.copy(path, source / name)
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index"]
        command += ["--find-links", str(wheels), "--wheel-dir", str(out), str(source)]
        subprocess.run(command, check=True, capture_output=True, timeout=300)
    [made] = out.glob("inbox_scheduler-*.whl")
    return made


def build(client: Any, *, base: str, wheels: Path, tag: str | None = None) -> str:
    """Build the image unless the tag exists already; returns the tag."""
    chosen = tag or f"inbox-host:{digest(wheels, base)}"
    try:
        client.images.get(chosen)
        if tag is None:
            return chosen  # the same sources and wheels built it before
    except Exception:  # docker.errors.ImageNotFound; docker is imported by the caller
        pass
    with tempfile.TemporaryDirectory(prefix="inbox-host-build-") as tmp:
        context = Path(tmp)
        for wheel in wheels.glob("*.whl"):
            shutil.copy(wheel, context / wheel.name)
        project_wheel(wheels, context)
        shutil.copy(DOCKERFILE, context / "Dockerfile")
        client.images.build(
            path=str(context), tag=chosen, buildargs={"BASE": base, "OFFLINE": "1"}, rm=True, pull=False
        )
    return chosen


def main() -> None:
    import docker

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="python:3.11-slim", help="base image with python3 and venv")
    parser.add_argument("--wheels", type=Path, required=True, help="folder of the dependencies' wheels")
    parser.add_argument("--tag", default=None, help="image name (default: inbox-host:DIGEST)")
    options = parser.parse_args()
    client = docker.from_env(timeout=600)
    try:
        print(build(client, base=options.base, wheels=options.wheels, tag=options.tag))
    finally:
        client.close()


if __name__ == "__main__":
    main()
