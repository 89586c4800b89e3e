"""Webhook channels: each outbox row POSTed as JSON, signed, to an address checked after resolution.

The request carries ``Idempotency-Key: <outbox id>`` (the same on every attempt, also after a crash: the receiver
can drop a repeat), ``X-Inbox-Signature: sha256=<hex HMAC-SHA256 of the raw body with the channel's secret>`` (as
incoming hooks are checked, GitHub's form) and ``X-Inbox-Attempt``. A 2xx answer delivers it; 408, 429 and 5xx,
a timeout, a refused or broken connection or a name that does not resolve are retried; any other answer fails it
at once (a redirect too: it is not followed, its target was never checked).

The host name is resolved for each attempt and every address checked (inbox.addresses); the connection goes to a
checked address, with the name in ``Host`` and in TLS (SNI and certificate check), so a name that is re-pointed
between the check and the connection cannot lead the host anywhere else. Connections are kept open and reused
(sweeper.kept_connections).
"""

from __future__ import annotations

import hmac
import http.client
import ssl
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from hashlib import sha256

from inbox import __version__
from inbox.addresses import RefusedAddress, Resolver, checked_addresses, system_resolver
from inbox.channels import WebhookTarget, webhook_target
from inbox.errors import InvalidInput
from sweeper.delivery.base import DELIVERED, Delivery, Sent, fail, retry, tail
from sweeper.kept_connections import KeptConnections, Key

SIGNATURE_HEADER = "X-Inbox-Signature"
MAX_ANSWER = 64 * 1024  # of a receiver's answer body read; the rest closes the connection
MAX_RETRY_AFTER = timedelta(hours=6)
RETRIED_STATUSES = frozenset({408, 429})


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, sha256).hexdigest()


def host_header(target: WebhookTarget) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def _retry_after(value: str | None) -> timedelta | None:
    """A ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value:
        return None
    try:
        wait = timedelta(seconds=max(0.0, float(value)))
    except ValueError:
        try:
            wait = parsedate_to_datetime(value) - datetime.now(UTC)
        except (TypeError, ValueError):
            return None
    return min(max(wait, timedelta(0)), MAX_RETRY_AFTER)


def verdict(status: int, answer: str, retry_after: str | None = None) -> Sent:
    """What a receiver's status means for the row (the module's docstring says which are retried)."""
    if 200 <= status < 300:
        return DELIVERED
    error = f"HTTP {status}" + (f": {tail(answer)}" if answer.strip() else "")
    if status in RETRIED_STATUSES or status >= 500:
        return retry(error, _retry_after(retry_after))
    if 300 <= status < 400:
        return fail(f"{error} (redirects are not followed)")
    return fail(error)


class WebhookSender:
    def __init__(
        self, *, timeout_s: float, resolver: Resolver = system_resolver, tls: ssl.SSLContext | None = None
    ) -> None:
        self.timeout_s = timeout_s
        self.resolver = resolver
        self._kept = KeptConnections(tls)

    def send(self, delivery: Delivery) -> Sent:
        try:
            target = webhook_target(delivery.channel.target)
        except InvalidInput as exc:
            return fail(f"the channel's URL is refused: {exc.reason}")
        try:
            addresses = checked_addresses(target.host, target.port, self.resolver)
        except RefusedAddress as exc:
            return fail(str(exc))
        except (OSError, UnicodeError) as exc:
            return retry(f"cannot resolve {target.host}: {exc}")
        headers = {
            "Host": host_header(target),
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": f"inbox/{__version__}",
            "Idempotency-Key": delivery.item.id,
            "X-Inbox-Attempt": str(delivery.item.attempt),
        }
        if delivery.channel.secret:
            headers[SIGNATURE_HEADER] = signature(delivery.channel.secret, delivery.body)
        refused: list[str] = []
        for address in addresses:
            key = (target.scheme, target.host, target.port, address)
            try:
                connection = self._kept.connection(key, timeout_s=self.timeout_s)
            except ssl.SSLCertVerificationError as exc:
                return fail(f"the TLS certificate of {target.host} ({address}) was refused: {exc.verify_message}")
            except OSError as exc:
                refused.append(f"{address}: {exc.strerror or exc}")
                continue  # nothing was sent: the next address may answer
            return self._post(connection, key, target, headers, delivery.body)
        return retry(f"could not connect to {target.host} port {target.port} ({'; '.join(refused)})")

    def _post(
        self,
        connection: http.client.HTTPConnection,
        key: Key,
        target: WebhookTarget,
        headers: dict[str, str],
        body: bytes,
    ) -> Sent:
        try:
            connection.request("POST", target.path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read(MAX_ANSWER)
        except (OSError, http.client.HTTPException) as exc:
            self._kept.forget(key)
            what = "timed out" if isinstance(exc, TimeoutError) else f"failed: {exc!r}"
            return retry(f"POST to {target.host} {what}")
        self._kept.after(key, response)
        return verdict(response.status, answer.decode("utf-8", "replace"), response.getheader("Retry-After"))
