"""``inbox service install|uninstall``: systemd units for the host (``inbox serve``) and for cron mode."""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from inbox.cli.render import console, errors
from inbox.errors import InvalidInput

app = typer.Typer(help="systemd units for the host and for cron mode.", no_args_is_help=True)

User = Annotated[bool, typer.Option("--user", help="The user's own systemd (~/.config/systemd/user).")]
Root = Annotated[
    Path | None, typer.Option("--root", help="Write under this folder instead of / (an image being built).")
]


def _executable(given: Path | None) -> Path:
    """The inbox command to start: --exec, else the one beside this Python (a virtualenv's), else on PATH."""
    if given is not None:
        path = given.expanduser().absolute()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise InvalidInput("--exec", f"{given} is not an executable file")
        return path
    beside = Path(sys.executable).parent / "inbox"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("inbox")
    if found is None:
        raise InvalidInput("--exec", "the inbox command is not on PATH; give its path")
    return Path(found).absolute()


def _folder(user_units: bool, root: Path | None) -> Path:
    from inbox.service_units import unit_folder

    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return unit_folder(user_units=user_units, root=root, config_home=config_home)


def _systemctl(user_units: bool) -> str:
    return "systemctl --user" if user_units else "systemctl"


@app.command()
def install(
    user_units: User = False,
    show: Annotated[bool, typer.Option("--print", help="Print the units instead of writing them.")] = False,
    root: Root = None,
    executable: Annotated[Path | None, typer.Option("--exec", help="The inbox command the units start.")] = None,
    account: Annotated[
        str | None, typer.Option("--as", help="The account system units run as (default: yours).")
    ] = None,
    listen: Annotated[str | None, typer.Option("--listen", help="HOST:PORT for inbox serve's HTTP API.")] = None,
) -> None:
    """Write inbox.service (the host, restarted when it fails) and inbox-sweep.timer with inbox-sweep.service
    (cron mode: a pass every minute). Enable one of them afterwards; nothing is enabled or started here."""
    from inbox.cli.serve import check_listen
    from inbox.config import load_settings
    from inbox.service_units import Plan, render, socket_folder_moves

    if listen is not None:
        check_listen(listen)
    settings = load_settings()
    home = settings.home.expanduser().absolute()
    who = account or pwd.getpwuid(os.geteuid()).pw_name
    if user_units and account is not None:
        raise InvalidInput("--as", "user units run as their user; --as is for system units")
    plan = Plan(_executable(executable), home, user_units, None if user_units else who, listen, settings.shutdown_grace)
    units = render(plan)
    folder = _folder(user_units, root)
    if socket_folder_moves(home):
        errors.print(
            f"note: INBOX_HOME ({home}) is a long path: the runners' socket goes to /tmp, which the units keep "
            "private (PrivateTmp); the docker runtime needs a shorter INBOX_HOME",
            highlight=False,
        )
    if show:
        for name, text in units.items():
            sys.stdout.write(f"# {folder / name}\n{text}\n")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in units.items():
        (folder / name).write_text(text, encoding="utf-8")
        console.print(f"wrote {folder / name}", highlight=False)
    ctl = _systemctl(user_units)
    console.print(
        f"next: {ctl} daemon-reload, then either `{ctl} enable --now inbox.service` (the host) or "
        f"`{ctl} enable --now inbox-sweep.timer` (cron mode)",
        highlight=False,
    )


@app.command()
def uninstall(user_units: User = False, root: Root = None) -> None:
    """Remove the units `inbox service install` wrote (others of the same names are left alone). Disable them
    first: `systemctl [--user] disable --now inbox.service inbox-sweep.timer`."""
    from inbox.service_units import NAMES, written_by_us

    folder = _folder(user_units, root)
    removed = 0
    for name in NAMES:
        path = folder / name
        if not path.exists():
            continue
        if not written_by_us(path):
            errors.print(f"left {path}: not written by inbox service install", highlight=False)
            continue
        path.unlink()
        removed += 1
        console.print(f"removed {path}", highlight=False)
    if removed:
        console.print(f"next: {_systemctl(user_units)} daemon-reload", highlight=False)
    else:
        console.print(f"no inbox units in {folder}", highlight=False)


def register(root_app: typer.Typer) -> None:
    root_app.add_typer(app, name="service")
