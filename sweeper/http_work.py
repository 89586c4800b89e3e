"""The ``http`` kind's request, made by the host for a runner that holds the run (docs/kinds.md says why here).

The request is read from the task as stored, never from the runner. Its host name is resolved and every address
checked (inbox.addresses), and the connection goes to a checked address, with the name in ``Host`` and in TLS, as
webhook deliveries do, kept open for the next request to that address (sweeper.kept_connections). A request the
assistant wrote reaches public addresses only, and never the address and port this host's own API listens on;
redirects are not followed by anyone (the target was never checked).

A 2xx answer completes the run with the answer's text as its result; 408, 429, 5xx, a timeout, a refused or
broken connection or a name that does not resolve fail it as transient (retried with backoff); any other status
fails it at once, naming the status.
"""

from __future__ import annotations

import http.client
import json
import ssl
from collections.abc import Collection
from typing import Any, Protocol

from agent_runner.protocol import AGENT_PREFIX, HttpAnswer
from inbox import __version__
from inbox.addresses import RefusedAddress, Resolver, checked_addresses, system_resolver
from inbox.channels import webhook_target
from inbox.errors import InvalidInput
from inbox.kinds import PUBLIC_ONLY, HttpInput
from sweeper.delivery.webhook import MAX_ANSWER, RETRIED_STATUSES, host_header
from sweeper.kept_connections import KeptConnections
from sweeper.providers.base import parse_retry_after

WILDCARDS = frozenset({"0.0.0.0", "::"})
DEFAULT_TIMEOUT_S = 30.0  # an http task's request without a --timeout of its own


def _body(value: HttpInput) -> tuple[bytes | None, str | None]:
    if value.body is None:
        return None, None
    if isinstance(value.body, str):
        return value.body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(value.body, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8"


def _answer(status: int, text: str, headers: http.client.HTTPMessage) -> HttpAnswer:
    if 200 <= status < 300:
        return HttpAnswer(status=status, body=text)
    error = f"HTTP {status}" + (f": {text.strip()[:500]}" if text.strip() else "")
    if status in RETRIED_STATUSES or status >= 500:
        wait = parse_retry_after({k.lower(): v for k, v in headers.items()})
        return HttpAnswer(status=status, body=text, error=error, transient=True, retry_after_s=wait)
    if 300 <= status < 400:
        error += " (redirects are not followed)"
    return HttpAnswer(status=status, body=text, error=error)


class HttpTask(Protocol):
    """What a request is made from: an ``http`` task's occurrence (a MessageIn, or the host's own claim of one)."""

    @property
    def id(self) -> str: ...
    @property
    def do(self) -> str: ...
    @property
    def content(self) -> dict[str, Any]: ...
    @property
    def kind_author(self) -> str: ...
    @property
    def timeout_s(self) -> float | None: ...


class HttpWork:
    """Makes ``http`` tasks' requests; ``own``: the (address, port) pairs this host's API listens on."""

    def __init__(
        self,
        *,
        resolver: Resolver = system_resolver,
        tls: ssl.SSLContext | None = None,
        own: Collection[tuple[str, int]] = (),
    ) -> None:
        self.resolver = resolver
        self.kept = KeptConnections(tls)
        self.own = frozenset(own)

    def _own(self, address: str, port: int) -> bool:
        return any(p == port and (a == address or a in WILDCARDS) for a, p in self.own)

    def run(self, row: HttpTask) -> HttpAnswer:
        """The request of ``row``, an ``http`` task's occurrence, as the task stored it, judged by who wrote it
        (an agent re-pointing a person's task is held to an agent's reach), under the task's time limit."""
        if row.do != "http":
            return HttpAnswer(error=f"{row.id} is a {row.do} task, not an http one")
        return self.call(
            dict(row.content.get("with") or {}),
            by_agent=row.kind_author.startswith(AGENT_PREFIX),
            timeout_s=row.timeout_s or DEFAULT_TIMEOUT_S,
            key=row.id,
        )

    def call(self, given: dict[str, Any], *, by_agent: bool, timeout_s: float, key: str) -> HttpAnswer:
        """Make the request ``given`` (a task's checked ``with``); ``key`` is sent as ``Idempotency-Key``."""
        try:
            value = HttpInput.model_validate(given)
            target = webhook_target(value.url, field="url")
        except (ValueError, InvalidInput) as exc:
            return HttpAnswer(error=f"the task's request is invalid: {exc}")
        try:
            addresses = checked_addresses(target.host, target.port, self.resolver, public_only=by_agent)
        except RefusedAddress as exc:
            return HttpAnswer(error=f"{exc}" + (f" ({PUBLIC_ONLY})" if by_agent else ""))
        except (OSError, UnicodeError) as exc:
            return HttpAnswer(error=f"cannot resolve {target.host}: {exc}", transient=True)
        if by_agent and any(self._own(address, target.port) for address in addresses):
            return HttpAnswer(error=f"{target.host} port {target.port} is this host's own API: {PUBLIC_ONLY}")
        body, content_type = _body(value)
        headers = {"User-Agent": f"inbox/{__version__}", "Idempotency-Key": key, **value.headers}
        headers["Host"] = host_header(target)
        if content_type is not None and not any(name.lower() == "content-type" for name in value.headers):
            headers["Content-Type"] = content_type
        refused: list[str] = []
        for address in addresses:
            route = (target.scheme, target.host, target.port, address)
            try:
                connection = self.kept.connection(route, timeout_s=timeout_s)
            except ssl.SSLCertVerificationError as exc:
                return HttpAnswer(error=f"the TLS certificate of {target.host} was refused: {exc.verify_message}")
            except OSError as exc:
                refused.append(f"{address}: {exc.strerror or exc}")
                continue  # nothing was sent: the next address may answer
            try:
                connection.request(value.method, target.path, body=body, headers=headers)
                response = connection.getresponse()
                text = response.read(MAX_ANSWER).decode("utf-8", "replace")
            except (OSError, http.client.HTTPException) as exc:
                self.kept.forget(route)
                what = "timed out" if isinstance(exc, TimeoutError) else f"failed: {exc!r}"
                return HttpAnswer(error=f"{value.method} {target.host} {what}", transient=True)
            self.kept.after(route, response)
            return _answer(response.status, text, response.headers)
        why = "; ".join(refused)
        return HttpAnswer(error=f"could not connect to {target.host} port {target.port} ({why})", transient=True)
