"""The runner's connection to its host: HTTP over the unix socket the host gave it, with its session token.

A host whose store cannot be used for a while (its database restarting, its disk full) answers 503: the request
did nothing, and is asked again after a short wait, for up to :data:`STORE_WAIT_S` (a claim is not: the claim
loop waits itself). A result is thereby kept until the store takes it, rather than lost and its work redone.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx

from agent_runner.conversation import ModelReply, ProviderError
from agent_runner.protocol import (
    PREFIX,
    PROTOCOL_VERSION,
    VERSION_HEADER,
    ClaimReply,
    ClaimRequest,
    Heartbeat,
    HeartbeatReply,
    HistoryReply,
    HistoryRequest,
    HttpAnswer,
    HttpCall,
    ModelFailure,
    ModelRequest,
    Progress,
    ResultReply,
    RunResult,
    StartReply,
    StartRequest,
    ToolAnswer,
    ToolRequest,
)

log = logging.getLogger("agent_runner")
STORE_WAIT_S = 600.0
RETRY_STEPS_S = (0.5, 1.0, 2.0, 5.0)  # waits between asks while the host's store is away, the last repeated


class StoreAway(Exception):
    """The host answers, but its store cannot be used right now (503): nothing was done; ask again later."""


def store_wait(tries: int) -> float:
    """How long to wait before asking again, after ``tries`` answers of 503 in a row."""
    return RETRY_STEPS_S[min(max(tries, 1), len(RETRY_STEPS_S)) - 1]


class IncompatibleHost(Exception):
    """The host runs other code than this runner (e.g. a runner image older than the host)."""


class LeaseLost(Exception):
    """The host no longer counts this runner as holding the row: its result was not recorded."""


class HostClient:
    def __init__(self, socket_path: str, token: str, *, timeout_s: float = 30.0) -> None:
        self._client = httpx.Client(
            transport=httpx.HTTPTransport(uds=socket_path),
            base_url="http://host" + PREFIX,
            headers={"authorization": f"Bearer {token}", VERSION_HEADER: PROTOCOL_VERSION},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._client.close()

    def _post(
        self, path: str, body: Any, *, timeout: float | None = None, patience_s: float = STORE_WAIT_S
    ) -> httpx.Response:
        """POST, asked again while the host answers 503 for up to ``patience_s``; then :class:`StoreAway`."""
        deadline = time.monotonic() + patience_s
        tries = 0
        while True:
            if timeout is None:
                resp = self._client.post(path, json=body)
            else:
                resp = self._client.post(path, json=body, timeout=timeout)
            if resp.status_code != 503:
                return resp
            tries += 1
            wait = store_wait(tries)
            why = _error_text(resp, "the host's store is unavailable")
            if time.monotonic() + wait > deadline:
                raise StoreAway(why)
            if tries == 1:
                log.warning("%s %s: %s; asking again", "POST", path, why)
            time.sleep(wait)

    def claim(self, *, limit: int, wait_s: float) -> ClaimReply:
        body = ClaimRequest(limit=limit, wait_s=wait_s).model_dump(mode="json")
        resp = self._post("/claim", body, timeout=wait_s + 30, patience_s=0)
        if resp.status_code == 426:
            raise IncompatibleHost(resp.json().get("error", "the host speaks another runner protocol"))
        resp.raise_for_status()
        return ClaimReply.model_validate(resp.json())

    def start(self, message_id: str, attempt: int, *, history: HistoryReply | None = None) -> StartReply:
        """Ask to start an item claimed early at its due time (``history``: the conversation it came with, to have again
        if it moved on since); :class:`LeaseLost` when it is no longer this runner's."""
        asked = StartRequest(
            message_id=message_id,
            attempt=attempt,
            history=history is not None,
            newest_id=history.newest_id if history is not None else None,
        )
        body = asked.model_dump(mode="json")
        resp = self._post("/start", body, patience_s=0)
        if resp.status_code in (403, 404, 409):
            raise LeaseLost(resp.json().get("error", "lease lost"))
        resp.raise_for_status()
        return StartReply.model_validate(resp.json())

    def heartbeat(self, leases: dict[str, int]) -> HeartbeatReply:
        """Renew the leases held, given as message id -> attempt."""
        resp = self._post("/heartbeat", Heartbeat(leases=leases).model_dump(mode="json"), patience_s=0)
        resp.raise_for_status()
        return HeartbeatReply.model_validate(resp.json())

    def report(self, result: RunResult) -> ResultReply:
        resp = self._post("/results", result.model_dump(mode="json"))
        if resp.status_code == 409:
            raise LeaseLost(resp.json().get("error", "lease lost"))
        resp.raise_for_status()
        return ResultReply.model_validate(resp.json())

    def model(self, request: ModelRequest, *, timeout_s: float) -> ModelReply:
        """One model turn through the host; raises :class:`ProviderError` as the provider failed, and
        :class:`LeaseLost` when the host no longer counts this runner as holding the request's row."""
        try:
            resp = self._post("/model", request.model_dump(mode="json"), timeout=timeout_s, patience_s=timeout_s)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"no model answer within {timeout_s:g} s", kind="timeout") from exc
        except httpx.RequestError as exc:
            raise ProviderError(f"cannot reach the host for a model call: {exc}", kind="network") from exc
        except StoreAway as exc:
            raise ProviderError(f"the host could not check the lease: {exc}", kind="network") from exc
        if resp.status_code in (403, 409):  # not this runner's row (any more): stop working on it
            raise LeaseLost(resp.json().get("error", "lease lost"))
        if resp.status_code == 502:
            failure = ModelFailure.model_validate(resp.json())
            raise ProviderError(
                failure.message,
                kind=failure.kind,
                transient=failure.transient,
                status=failure.status,
                retry_after_s=failure.retry_after_s,
            )
        resp.raise_for_status()
        return ModelReply.model_validate(resp.json())

    def history(self, message_id: str) -> HistoryReply:
        resp = self._post("/history", HistoryRequest(message_id=message_id).model_dump(mode="json"))
        resp.raise_for_status()
        return HistoryReply.model_validate(resp.json())

    def http(self, call: HttpCall, *, timeout_s: float) -> HttpAnswer:
        """An ``http`` task's request, made by the host; :class:`LeaseLost` when the row is no longer this
        runner's. The host's own time limit is ``timeout_s``; this waits a little longer for its answer."""
        try:
            resp = self._post("/http", call.model_dump(mode="json"), timeout=timeout_s + 10, patience_s=timeout_s)
        except (httpx.RequestError, StoreAway) as exc:
            return HttpAnswer(error=f"cannot reach the host for the request: {exc}", transient=True)
        if resp.status_code in (403, 409):
            raise LeaseLost(resp.json().get("error", "lease lost"))
        resp.raise_for_status()
        return HttpAnswer.model_validate(resp.json())

    def progress(self, report: Progress) -> None:
        """Tell the host how far a run has come; a report that cannot be given is dropped (the work goes on)."""
        try:
            self._post("/progress", report.model_dump(mode="json"), patience_s=0)
        except (httpx.RequestError, StoreAway) as exc:
            log.warning("progress of %s not recorded: %s", report.message_id, exc)

    def tool(self, request: ToolRequest) -> ToolAnswer:
        resp = self._post("/tools", request.model_dump(mode="json"))
        resp.raise_for_status()
        return ToolAnswer.model_validate(resp.json())


def _error_text(resp: httpx.Response, default: str) -> str:
    try:
        body = resp.json()
    except ValueError:
        return default
    return str(body.get("error") or default) if isinstance(body, dict) else default
