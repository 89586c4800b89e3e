"""What a delivery channel is, checked: its name, and the webhook URL, command line or SMTP server it stands for.

Pure functions (no store, no network): the command line and the Python API check a channel with them before it
is written, and the host's senders read a stored channel's target with the same parsers.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from inbox import validation as check
from inbox.addresses import literal, refusal
from inbox.enums import ChannelKind
from inbox.errors import InvalidInput

NO_CHANNEL = "none"  # as a task's or a session's channel: the outbox only
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,63}")
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+")
WEBHOOK_SCHEMES = ("http", "https")
SMTP_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
MAX_TARGET = 2000
MAX_SECRET = 200


def channel_name(value: str, *, field: str = "name") -> str:
    """A channel's name: 1-64 letters, digits or ``_ . : @ -``; ``none`` is taken (it means no channel)."""
    if not _NAME.fullmatch(value):
        raise InvalidInput(
            field, f"{value!r} must be 1-64 letters, digits or _ . : @ - and start with a letter or digit"
        )
    if value.lower() == NO_CHANNEL:
        raise InvalidInput(field, f"{value!r} is reserved: it means the outbox only")
    return value


def deliver_choice(value: str, *, field: str = "deliver") -> str:
    """A task's or a session's ``deliver``: a channel's name or ``none`` (whether that channel exists is checked
    where it is written)."""
    return NO_CHANNEL if value.strip().lower() == NO_CHANNEL else channel_name(value.strip(), field=field)


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str
    host: str  # as in the URL, without brackets
    port: int
    path: str  # with its query


def webhook_target(url: str, *, field: str = "webhook") -> WebhookTarget:
    """An ``http(s)://`` URL with a host; a literal address that is refused is refused here already (a name is
    checked when it is resolved, at each delivery)."""
    check.storable(url, field=field)
    if len(url) > MAX_TARGET or any(c.isspace() for c in url):
        raise InvalidInput(field, f"{url!r} is not a URL (no spaces, at most {MAX_TARGET} characters)")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(field, f"{url!r} has an invalid port") from None
    if parts.scheme.lower() not in WEBHOOK_SCHEMES or not parts.hostname:
        raise InvalidInput(field, f"{url!r} must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(field, "must not hold credentials; the channel's --secret signs each request instead")
    host = parts.hostname
    address = literal(host)
    if address is not None and (why := refusal(address)) is not None:
        raise InvalidInput(field, f"{why}: the host never sends there")
    scheme = parts.scheme.lower()
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(scheme, host, port or (443 if scheme == "https" else 80), path)


def command_line(command: str, *, field: str = "command") -> list[str]:
    """The program and its arguments (split as a shell would, but run without one); the program must exist."""
    check.text(command, field=field)
    if len(command) > MAX_TARGET:
        raise InvalidInput(field, f"is longer than {MAX_TARGET} characters")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(field, f"{command!r} cannot be split into words: {exc}") from None
    if not argv:
        raise InvalidInput(field, "must name a program")
    program = argv[0]
    if "/" in program:
        if not check.is_file(Path(program).expanduser()):
            raise InvalidInput(field, f"no such program: {program}")
    elif shutil.which(program) is None:
        raise InvalidInput(field, f"no program {program!r} on PATH; give its full path")
    return argv


@dataclass(frozen=True)
class SmtpTarget:
    scheme: str  # smtp (plain), smtp+starttls, smtps (TLS from the start)
    host: str
    port: int
    username: str | None
    password: str | None

    @property
    def shown(self) -> str:
        """The URL without its password."""
        user = f"{self.username}:***@" if self.password else f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{user}{host}:{self.port}"


def smtp_target(url: str, *, field: str = "smtp") -> SmtpTarget:
    """``smtp://[USER[:PASSWORD]@]HOST[:PORT]``, ``smtp+starttls://…`` (port 587) or ``smtps://…`` (port 465)."""
    check.storable(url, field=field)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(field, f"{url!r} has an invalid port") from None
    if scheme not in SMTP_PORTS or not parts.hostname or len(url) > MAX_TARGET:
        raise InvalidInput(field, f"{url!r} must be smtp://, smtp+starttls:// or smtps:// with a host")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return SmtpTarget(scheme, parts.hostname, port or SMTP_PORTS[scheme], username, password)


def mail_address(value: str, *, field: str) -> str:
    if not _ADDRESS.fullmatch(value) or len(value) > 320:
        raise InvalidInput(field, f"{value!r} is not an e-mail address")
    return value


def secret(value: str, *, field: str = "secret") -> str:
    check.storable(value, field=field)
    if not value.strip() or len(value) > MAX_SECRET or any(c.isspace() for c in value):
        raise InvalidInput(field, f"must be 1-{MAX_SECRET} characters without spaces")
    return value


@dataclass(frozen=True)
class ChannelDefinition:
    """A channel as given, checked (what ``inbox channel add`` writes), or as stored (what a sender reads)."""

    name: str
    kind: ChannelKind
    target: str
    secret: str | None = None
    mail_to: str | None = None
    mail_from: str | None = None


def define_channel(
    name: str,
    *,
    webhook: str | None = None,
    secret_value: str | None = None,
    command: str | None = None,
    smtp: str | None = None,
    to: str | None = None,
    sender: str | None = None,
) -> ChannelDefinition:
    """One channel from exactly one of ``webhook``, ``command``, ``smtp`` (with ``to``), each checked."""
    channel_name(name)
    given = [kind for kind, value in (("webhook", webhook), ("command", command), ("smtp", smtp)) if value is not None]
    if len(given) != 1:
        kinds = ("webhook", "command", "smtp")
        got = ", ".join(given) or "none"
        raise InvalidInput("channel", f"give exactly one of webhook, command or smtp (got {got})", mentions=kinds)
    if secret_value is not None and webhook is None:
        raise InvalidInput("secret", "only a webhook channel is signed with a secret")
    if (to is not None or sender is not None) and smtp is None:
        raise InvalidInput("to" if to is not None else "from", "only an smtp channel sends mail")
    if webhook is not None:
        webhook_target(webhook)
        signing = secret(secret_value) if secret_value is not None else None
        return ChannelDefinition(name, ChannelKind.WEBHOOK, webhook, secret=signing)
    if command is not None:
        command_line(command)
        return ChannelDefinition(name, ChannelKind.COMMAND, command)
    assert smtp is not None
    smtp_target(smtp)
    if to is None:
        raise InvalidInput("to", "an smtp channel needs the address to send to")
    return ChannelDefinition(
        name,
        ChannelKind.SMTP,
        smtp,
        mail_to=mail_address(to, field="to"),
        mail_from=mail_address(sender, field="from") if sender is not None else None,
    )


def shown_target(kind: ChannelKind | str, target: str) -> str:
    """A stored target as listings show it: an SMTP URL without its password."""
    if kind == ChannelKind.SMTP:
        try:
            return smtp_target(target).shown
        except InvalidInput:
            return "(invalid)"
    return target
