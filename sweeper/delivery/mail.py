"""SMTP channels: each outbox row as a plain-text mail to the channel's address (smtplib).

``smtp://`` talks plain SMTP (a relay on this machine or the LAN), ``smtp+starttls://`` upgrades with STARTTLS,
``smtps://`` uses TLS from the start; a user and password in the URL log in. The mail's ``Message-ID`` is
``<OUTBOX_ID@inbox>`` on every attempt, so a mailbox that sees a repeat (after a crash between sending and
recording) can tell. The server's 4xx answers, timeouts and dropped connections are retried; 5xx answers (a
refused recipient, failed login) and TLS certificate problems fail the row at once.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from inbox.channels import smtp_target
from inbox.errors import InvalidInput
from sweeper.delivery.base import DELIVERED, Delivery, Sent, fail, retry

SUBJECT_CHARS = 70


def _subject(delivery: Delivery) -> str:
    item = delivery.item
    first = next((line.strip() for line in item.text.splitlines() if line.strip()), "")
    if len(first) > SUBJECT_CHARS:
        first = first[: SUBJECT_CHARS - 1] + "…"
    source = f" ({item.task_name})" if item.task_name else ""
    return f"[inbox {item.session}] {item.kind}{source}: {first}"


def mail_of(delivery: Delivery, *, sender: str) -> EmailMessage:
    item = delivery.item
    mail = EmailMessage()
    mail["From"] = delivery.channel.mail_from or sender
    mail["To"] = delivery.channel.mail_to or ""
    mail["Subject"] = _subject(delivery)
    mail["Date"] = formatdate(item.created_at.timestamp(), localtime=True)
    mail["Message-ID"] = f"<{item.id}@inbox>"
    mail["X-Inbox-Outbox-Id"] = item.id
    mail.set_content(item.text)
    return mail


def _answer(exc: smtplib.SMTPResponseException) -> str:
    said = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
    return f"{exc.smtp_code} {said}".strip()


class SmtpSender:
    def __init__(self, *, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.sender = f"inbox@{socket.gethostname() or 'localhost'}"

    def send(self, delivery: Delivery) -> Sent:
        try:
            target = smtp_target(delivery.channel.target)
        except InvalidInput as exc:
            return fail(f"the channel's SMTP URL is refused: {exc.reason}")
        mail = mail_of(delivery, sender=self.sender)
        where = f"{target.host} port {target.port}"
        try:
            if target.scheme == "smtps":
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    target.host, target.port, timeout=self.timeout_s, context=ssl.create_default_context()
                )
            else:
                server = smtplib.SMTP(target.host, target.port, timeout=self.timeout_s)
            with server:
                if target.scheme == "smtp+starttls":
                    server.starttls(context=ssl.create_default_context())
                if target.username:
                    server.login(target.username, target.password or "")
                server.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            refused = "; ".join(f"{who}: {code} {said!r}" for who, (code, said) in exc.recipients.items())
            transient = all(400 <= code < 500 for code in codes)
            return retry(f"{where} refused {refused}") if transient else fail(f"{where} refused {refused}")
        except smtplib.SMTPResponseException as exc:
            said = f"{where} answered {_answer(exc)}"
            return retry(said) if 400 <= exc.smtp_code < 500 else fail(said)
        except smtplib.SMTPNotSupportedError as exc:
            return fail(f"{where}: {exc}")
        except ssl.SSLCertVerificationError as exc:
            return fail(f"{where}: the TLS certificate was refused: {exc.verify_message}")
        except (OSError, smtplib.SMTPException) as exc:
            return retry(f"{where}: {exc!r}")
        return DELIVERED
