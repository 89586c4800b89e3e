"""The host's side of model calls: runners ask, the host calls the provider with credentials only it holds.

A runner never sees an API key: it posts the conversation to ``/runner/v1/model`` and the host forwards it with
``INBOX_PROVIDER``'s key. The provider is ``INBOX_PROVIDER`` when set, else inferred from which provider's
variables are present (``OPENAI_*`` first), and the model is ``INBOX_MODEL``.

A provider that answered 429 with ``Retry-After`` is not asked again for that model before the time it named
(at most an hour, ``MAX_RETRY_AFTER_S``): the calls meanwhile fail at once, rate limited, with the time left, as
the provider itself would have answered them. Requests that cannot work are not sent.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from agent_runner.protocol import ModelRequest
from inbox.config import Settings
from sweeper.providers import MAX_RETRY_AFTER_S, PROVIDER_NAMES, ModelReply, Provider, ProviderError, make_provider

KEY_VARS = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}


@dataclass(frozen=True)
class ProviderChoice:
    name: str
    model: str | None
    base_url: str | None
    api_key: str | None


def choose_provider(settings: Settings) -> ProviderChoice | None:
    """What ``INBOX_PROVIDER`` (or the variables present) select; None when nothing is configured."""
    name = settings.provider
    if name is None:
        for candidate in ("openai", "anthropic"):
            if settings.api_key(candidate) or settings.base_url(candidate):
                name = candidate
                break
    if name is None:
        return None
    return ProviderChoice(
        name=name, model=settings.model, base_url=settings.base_url(name), api_key=settings.api_key(name)
    )


class ModelProxy:
    """Forwards runners' model requests to the configured provider; one client per provider, shared by all runners.

    A task may name its own model and provider; the credentials and base URL are still the host's own for that
    provider (``ANTHROPIC_*`` or ``OPENAI_*``).
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._choice = choose_provider(settings)
        self._providers: dict[str, Provider] = {}
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], float] = {}  # (provider, model) -> monotonic time its Retry-After ends

    def _ready(self, provider_name: str | None, model: str | None) -> tuple[Provider, str]:
        choice = self._choice
        name = provider_name or (choice.name if choice else None)
        if name is None:
            raise ProviderError(
                "no model provider configured: set INBOX_PROVIDER, INBOX_MODEL and the provider's key "
                "(e.g. OPENAI_API_KEY, or OPENAI_BASE_URL for a local server)",
                kind="bad_request",
            )
        if name not in PROVIDER_NAMES:
            raise ProviderError(f"provider {name!r} is not one of anthropic, openai", kind="bad_request")
        chosen_model = model or (choice.model if choice else None)
        if not chosen_model:
            raise ProviderError(f"INBOX_MODEL is not set (provider {name})", kind="unknown_model")
        with self._lock:
            if name not in self._providers:
                base_url, key = self._settings.base_url(name), self._settings.api_key(name)
                self._providers[name] = make_provider(name, base_url, key, timeout_s=self._settings.model_timeout)
            return self._providers[name], chosen_model

    def complete(self, request: ModelRequest) -> ModelReply:
        provider, model = self._ready(request.provider, request.model)
        key = (str(getattr(provider, "name", "")), model)
        with self._lock:
            left = self._held.get(key, 0.0) - time.monotonic()
        if left > 0:
            raise ProviderError(
                f"{key[0]} asked to wait (Retry-After) before calling {model} again: {left:.0f} s left; not sent",
                kind="rate_limited",
                retry_after_s=left,
            )
        try:
            return provider.complete(
                model=model,
                system=request.system,
                turns=request.turns,
                tools=request.tools,
                max_tokens=request.max_tokens,
            )
        except ProviderError as exc:
            if exc.kind == "rate_limited" and exc.retry_after_s:
                with self._lock:
                    self._held[key] = time.monotonic() + min(exc.retry_after_s, MAX_RETRY_AFTER_S)
            raise

    def close(self) -> None:
        with self._lock:
            for provider in self._providers.values():
                close = getattr(provider, "close", None)
                if close is not None:
                    close()
