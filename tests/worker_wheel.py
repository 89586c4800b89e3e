"""The test worker package (tests/data/worker_pkg) as a wheel, built without a build backend.

The machines the suite runs on may have no wheel-building backend and no package index; a wheel is a zip file of
the package and its ``.dist-info`` (PEP 427), so it is written here from the package's own pyproject.toml, and then
installed by pip exactly as a user's worker wheel would be (into a target folder, or into the runner image).
"""

from __future__ import annotations

import base64
import hashlib
import tomllib
import zipfile
from pathlib import Path

PACKAGE = Path(__file__).parent / "data" / "worker_pkg"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_worker_wheel(folder: Path) -> Path:
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text())["project"]
    name, version = project["name"].replace("-", "_"), project["version"]
    info = f"{name}-{version}.dist-info"
    points = project["entry-points"]
    files: dict[str, bytes] = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "".join(
            f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in entries.items()) + "\n"
            for group, entries in points.items()
        ).encode(),
    }
    for source in sorted((PACKAGE / "inbox_test_worker").glob("*.py")):
        files[f"inbox_test_worker/{source.name}"] = source.read_bytes()
    record = [_record_line(path, data) for path, data in files.items()] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as out:
        for path, data in files.items():
            out.writestr(path, data)
    return wheel
