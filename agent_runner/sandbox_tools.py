"""The tools that act inside the runner's own sandbox: a shell and files under the workspace.

Offered to the model only where the runner runs in a container; the process runtime has no sandbox, so there
the model never sees them. The shell gets an environment of its own, not the runner's: a few ordinary variables
and nothing the host gave the runner (agent_runner.secrecy says how the token stays out of its reach).
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from agent_runner.conversation import ToolSpec

OUTPUT_CHARS = 20_000
MAX_FILE_BYTES = 1 << 20
SHELL_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")


def _inside(workspace: str, path: str) -> Path:
    root = Path(workspace).resolve()
    target = (root / path).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"path: {path!r} is outside {workspace}")
    return target


def shell_env(workspace: str) -> dict[str, str]:
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workspace, "LANG": "C.UTF-8"}
    env.update({key: os.environ[key] for key in SHELL_VARIABLES if key in os.environ})
    env["INBOX_WORKSPACE"] = workspace
    return env


def bash(workspace: str, command: str, timeout_s: float = 60) -> dict[str, Any]:
    proc = subprocess.Popen(
        ["bash", "-c", command],
        cwd=workspace,
        env=shell_env(workspace),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole group: what it started dies with it
        out, _ = proc.communicate()
        return {"exit_code": None, "output": out.decode(errors="replace")[-OUTPUT_CHARS:], "timed_out": True}
    return {"exit_code": proc.returncode, "output": out.decode(errors="replace")[-OUTPUT_CHARS:]}


def read_file(workspace: str, path: str) -> dict[str, Any]:
    target = _inside(workspace, path)
    data = target.read_bytes()[:MAX_FILE_BYTES]
    return {"path": str(target), "content": data.decode(errors="replace")}


def write_file(workspace: str, path: str, content: str) -> dict[str, Any]:
    target = _inside(workspace, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    return {"path": str(target), "bytes": len(content.encode())}


def run_sandbox_tool(workspace: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """Apply one sandbox tool; raises ValueError/OSError/TypeError for the caller to report to the model."""
    if name == "bash":
        return bash(workspace, str(arguments["command"]), float(arguments.get("timeout_s", 60)))
    if name == "read_file":
        return read_file(workspace, str(arguments["path"]))
    if name == "write_file":
        return write_file(workspace, str(arguments["path"]), str(arguments["content"]))
    raise ValueError(f"unknown tool {name!r}")


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


SANDBOX_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="bash",
        description="Run a shell command in your sandbox (working directory /workspace, no network by default).",
        parameters=_object(
            {"command": {"type": "string"}, "timeout_s": {"type": "number", "minimum": 1, "maximum": 300}},
            ["command"],
        ),
    ),
    ToolSpec(
        name="read_file",
        description="Read a text file under /workspace.",
        parameters=_object({"path": {"type": "string"}}, ["path"]),
    ),
    ToolSpec(
        name="write_file",
        description="Write a text file under /workspace (created or replaced).",
        parameters=_object({"path": {"type": "string"}, "content": {"type": "string"}}, ["path", "content"]),
    ),
)
