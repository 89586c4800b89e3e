"""The systemd units ``inbox service install`` writes: the host as a service, or cron mode as a timer.

``inbox.service`` runs ``inbox serve`` and restarts it when it fails. ``inbox-sweep.timer`` starts
``inbox-sweep.service`` (``inbox sweep --once``) every minute; systemd does not start a pass while the previous
one still runs. Enable one or the other. Both read ``$INBOX_HOME/.env`` and run sandboxed: nothing on the
machine is writable to them but ``INBOX_HOME``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MARKER = "# Written by `inbox service install`; `inbox service uninstall` removes it."
SERVE_UNIT = "inbox.service"
SWEEP_UNIT = "inbox-sweep.service"
TIMER_UNIT = "inbox-sweep.timer"
NAMES = (SERVE_UNIT, SWEEP_UNIT, TIMER_UNIT)
STOP_MARGIN_S = 15  # beyond the host's own shutdown grace, before systemd kills what is left
SOCKET_PATH_LIMIT = 100  # sweeper.host.MAX_SOCKET_PATH: longer, and the runners' socket moves to /tmp


@dataclass(frozen=True)
class Plan:
    executable: Path  # the inbox command
    home: Path  # INBOX_HOME
    user_units: bool  # --user: the user's own systemd instance
    account: str | None = None  # User= of system units
    listen: str | None = None  # inbox serve --listen
    shutdown_grace_s: float = 30.0


def _hardening(plan: Plan) -> list[str]:
    """Nothing writable but INBOX_HOME, a private /tmp, no privileges to gain. User units get the part a user's
    own systemd can apply; system units also shield the kernel, devices and clock."""
    lines = [
        "UMask=0077",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={plan.home}",
        "PrivateTmp=yes",
    ]
    if not plan.user_units:
        lines += [
            "ProtectHome=read-only",
            "PrivateDevices=yes",
            "ProtectKernelTunables=yes",
            "ProtectKernelModules=yes",
            "ProtectKernelLogs=yes",
            "ProtectControlGroups=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "RestrictSUIDSGID=yes",
            "RestrictRealtime=yes",
            "RestrictNamespaces=yes",
            "LockPersonality=yes",
            "SystemCallArchitectures=native",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ]
    return lines


def _service(plan: Plan, *, description: str, command: str, oneshot: bool, environment: list[str]) -> str:
    unit = [
        MARKER,
        "[Unit]",
        f"Description={description}",
        "After=network-online.target docker.service postgresql.service",
        "Wants=network-online.target",
        "",
        "[Service]",
        f"Type={'oneshot' if oneshot else 'simple'}",
    ]
    if plan.account and not plan.user_units:
        unit.append(f"User={plan.account}")
    unit += [f"Environment=INBOX_HOME={plan.home}", *environment, f"EnvironmentFile=-{plan.home / '.env'}"]
    unit.append(f"ExecStart={plan.executable} {command}")
    if not oneshot:
        unit += ["Restart=on-failure", "RestartSec=5s"]
    # SIGTERM to the host alone: it lets its runners finish and hands back what they hold (docs/runner.md).
    unit += ["KillMode=mixed", f"TimeoutStopSec={round(plan.shutdown_grace_s) + STOP_MARGIN_S}s"]
    unit += _hardening(plan)
    if not oneshot:
        unit += ["", "[Install]", f"WantedBy={'default.target' if plan.user_units else 'multi-user.target'}"]
    return "\n".join(unit) + "\n"


def render(plan: Plan) -> dict[str, str]:
    """Each unit's file name and text."""
    serve = "serve" + (f" --listen {plan.listen}" if plan.listen else "")
    timer = [
        MARKER,
        "[Unit]",
        f"Description=inbox cron mode: one pass every minute ({SWEEP_UNIT})",
        "",
        "[Timer]",
        "OnCalendar=*-*-* *:*:00",
        "AccuracySec=1s",
        f"Unit={SWEEP_UNIT}",
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return {
        SERVE_UNIT: _service(
            plan, description="inbox host: sweeper, runners, HTTP API", command=serve, oneshot=False, environment=[]
        ),
        # A pass a minute can start a slot a little over a minute late: twice that keeps catch-up skip from
        # counting it missed (docs/cron-mode.md). A value in .env wins.
        SWEEP_UNIT: _service(
            plan,
            description="inbox cron mode: one sweep pass",
            command="sweep --once",
            oneshot=True,
            environment=["Environment=INBOX_MISFIRE_GRACE=120"],
        ),
        TIMER_UNIT: "\n".join(timer) + "\n",
    }


def unit_folder(*, user_units: bool, root: Path | None, config_home: Path) -> Path:
    """/etc/systemd/system, or the user's ``$XDG_CONFIG_HOME/systemd/user``; under ``root`` when given."""
    folder = config_home / "systemd" / "user" if user_units else Path("/etc/systemd/system")
    return root / folder.relative_to(folder.anchor) if root is not None else folder


def written_by_us(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\n") == MARKER
    except (OSError, UnicodeDecodeError):
        return False


def socket_folder_moves(home: Path) -> bool:
    """Whether the runners' socket would leave ``$INBOX_HOME/run`` for /tmp, which PrivateTmp hides from the
    container engine (sweeper.host.socket_path)."""
    return len(str(home / "run" / "host-4194304.sock")) > SOCKET_PATH_LIMIT
