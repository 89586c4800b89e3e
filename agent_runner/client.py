"""The runner's connection to its host: HTTP over the unix socket the host gave it, with its session token."""

from __future__ import annotations

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
    ModelFailure,
    ModelRequest,
    ResultReply,
    RunResult,
    ToolAnswer,
    ToolRequest,
)


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

    def claim(self, *, limit: int, wait_s: float) -> ClaimReply:
        body = ClaimRequest(limit=limit, wait_s=wait_s).model_dump(mode="json")
        resp = self._client.post("/claim", json=body, timeout=wait_s + 30)
        if resp.status_code == 426:
            raise IncompatibleHost(resp.json().get("error", "the host speaks another runner protocol"))
        resp.raise_for_status()
        return ClaimReply.model_validate(resp.json())

    def heartbeat(self, leases: dict[str, int]) -> HeartbeatReply:
        """Renew the leases held, given as message id -> attempt."""
        resp = self._client.post("/heartbeat", json=Heartbeat(leases=leases).model_dump(mode="json"))
        resp.raise_for_status()
        return HeartbeatReply.model_validate(resp.json())

    def report(self, result: RunResult) -> ResultReply:
        resp = self._client.post("/results", json=result.model_dump(mode="json"))
        if resp.status_code == 409:
            raise LeaseLost(resp.json().get("error", "lease lost"))
        resp.raise_for_status()
        return ResultReply.model_validate(resp.json())

    def model(self, request: ModelRequest, *, timeout_s: float) -> ModelReply:
        """One model turn through the host; raises :class:`ProviderError` as the provider failed, and
        :class:`LeaseLost` when the host no longer counts this runner as holding the request's row."""
        try:
            resp = self._client.post("/model", json=request.model_dump(mode="json"), timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise ProviderError(f"no model answer within {timeout_s:g} s", kind="timeout") from exc
        except httpx.RequestError as exc:
            raise ProviderError(f"cannot reach the host for a model call: {exc}", kind="network") from exc
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
        resp = self._client.post("/history", json=HistoryRequest(message_id=message_id).model_dump(mode="json"))
        resp.raise_for_status()
        return HistoryReply.model_validate(resp.json())

    def tool(self, request: ToolRequest) -> ToolAnswer:
        resp = self._client.post("/tools", json=request.model_dump(mode="json"))
        resp.raise_for_status()
        return ToolAnswer.model_validate(resp.json())
