"""Model providers: one interface (:class:`Provider`), two wire formats (OpenAI-compatible, Anthropic)."""

from __future__ import annotations

from sweeper.providers.anthropic import DEFAULT_ANTHROPIC_BASE_URL, AnthropicProvider
from sweeper.providers.base import (
    MAX_RETRY_AFTER_S,
    TRANSIENT_KINDS,
    ChatTurn,
    ModelReply,
    Provider,
    ProviderError,
    ToolCall,
    ToolSpec,
    Usage,
)
from sweeper.providers.openai import DEFAULT_OPENAI_BASE_URL, OpenAIProvider

PROVIDER_NAMES = ("anthropic", "openai")
DEFAULT_BASE_URLS = {"anthropic": DEFAULT_ANTHROPIC_BASE_URL, "openai": DEFAULT_OPENAI_BASE_URL}


def make_provider(
    name: str, base_url: str | None = None, api_key: str | None = None, *, timeout_s: float = 120
) -> Provider:
    """The provider for ``INBOX_PROVIDER`` (``openai`` | ``anthropic``); ``base_url`` ``None``/empty = the
    provider's public endpoint. Raises ``ValueError`` naming an unknown provider."""
    key = name.strip().lower()
    url = base_url or DEFAULT_BASE_URLS.get(key, "")
    if key == "openai":
        return OpenAIProvider(url, api_key or None, timeout_s=timeout_s)
    if key == "anthropic":
        return AnthropicProvider(url, api_key or None, timeout_s=timeout_s)
    raise ValueError(f"INBOX_PROVIDER: unknown provider {name!r} (expected one of: {', '.join(PROVIDER_NAMES)})")


__all__ = [
    "DEFAULT_BASE_URLS",
    "MAX_RETRY_AFTER_S",
    "PROVIDER_NAMES",
    "TRANSIENT_KINDS",
    "AnthropicProvider",
    "ChatTurn",
    "ModelReply",
    "OpenAIProvider",
    "Provider",
    "ProviderError",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "make_provider",
]
