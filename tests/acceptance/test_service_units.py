"""``inbox service install|uninstall``: the units land where systemd looks, and systemd accepts them."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.acceptance.conftest import Cli

ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
UNITS = ("inbox.service", "inbox-sweep.service", "inbox-sweep.timer")


def _verify(folder: Path, *, user: bool, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    # A user manager's runtime folder, for --user. Short, not under tmp_path: the user units systemd ships (gpg's
    # sockets) put socket paths under it, and a socket path past 108 bytes fails their check, not ours.
    with tempfile.TemporaryDirectory(prefix="xdg", dir="/tmp") as runtime:
        os.chmod(runtime, 0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": runtime}
        command = [ANALYZE, *(["--user"] if user else []), "verify", *(str(folder / name) for name in UNITS)]
        return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)


def _settings(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            found.setdefault(key, []).append(value)
    return found


@needs_systemd
def test_system_units_land_in_etc_and_systemd_accepts_them(bare_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = bare_cli.ok("service", "install", "--root", str(root), "--listen", "127.0.0.1:8080")
    folder = root / "etc" / "systemd" / "system"
    assert sorted(p.name for p in folder.iterdir()) == sorted(UNITS)
    assert "enable --now inbox.service" in out and "enable --now inbox-sweep.timer" in out

    verified = _verify(folder, user=False, tmp_path=tmp_path)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr

    home = bare_cli.home.absolute()
    serve = _settings((folder / "inbox.service").read_text())
    [start] = serve["ExecStart"]
    command, *args = start.split()
    assert Path(command).name == "inbox" and os.access(command, os.X_OK)
    assert args == ["serve", "--listen", "127.0.0.1:8080"]
    assert serve["Restart"] == ["on-failure"]
    assert serve["EnvironmentFile"] == [f"-{home / '.env'}"]
    assert serve["Environment"] == [f"INBOX_HOME={home}"]
    for setting, value in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes")):
        assert serve[setting] == [value]
    assert serve["ReadWritePaths"] == [str(home)]
    assert serve["WantedBy"] == ["multi-user.target"]

    sweep = _settings((folder / "inbox-sweep.service").read_text())
    assert sweep["Type"] == ["oneshot"] and sweep["ExecStart"] == [f"{command} sweep --once"]
    timer = _settings((folder / "inbox-sweep.timer").read_text())
    assert timer["OnCalendar"] == ["*-*-* *:*:00"] and timer["Unit"] == ["inbox-sweep.service"]


@needs_systemd
def test_user_units_land_in_the_users_config_and_systemd_accepts_them(bare_cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "config"
    bare_cli.ok("service", "install", "--user", env={"XDG_CONFIG_HOME": str(config)})
    folder = config / "systemd" / "user"
    assert sorted(p.name for p in folder.iterdir()) == sorted(UNITS)
    verified = _verify(folder, user=True, tmp_path=tmp_path)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr
    serve = _settings((folder / "inbox.service").read_text())
    assert "User" not in serve and serve["WantedBy"] == ["default.target"]


def test_print_shows_the_units_and_writes_nothing(bare_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = bare_cli.ok("service", "install", "--print", "--root", str(root))
    for name in UNITS:
        assert f"# {root}/etc/systemd/system/{name}\n" in out
    assert "ExecStart=" in out and "[Timer]" in out
    assert not root.exists()


def test_uninstall_removes_only_the_units_install_wrote(bare_cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "root"
    bare_cli.ok("service", "install", "--root", str(root))
    folder = root / "etc" / "systemd" / "system"
    (folder / "inbox.service").write_text("[Service]\nExecStart=/bin/true\n")  # someone's own unit of that name
    result = bare_cli.run("service", "uninstall", "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert "left" in result.stderr and "inbox.service" in result.stderr
    assert [p.name for p in folder.iterdir()] == ["inbox.service"]
    assert "no inbox units" in bare_cli.ok("service", "uninstall", "--root", str(root))


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--exec", "/nonexistent/inbox"], "--exec"),
        (["--listen", "everywhere"], "--listen"),
        (["--user", "--as", "nobody"], "--as"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(bare_cli: Cli, tmp_path: Path, args: list[str], field: str) -> None:
    root = tmp_path / "root"
    result = bare_cli.run("service", "install", "--root", str(root), *args)
    assert result.returncode == 2 and field in result.stderr
    assert not root.exists()
