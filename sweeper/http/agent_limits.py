"""Limits on what an agent may schedule, enforced by the host whatever the model asks (docs/agent.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class AgentLimits:
    max_live_tasks: int = 50  # INBOX_AGENT_MAX_TASKS: live series per session
    min_interval: timedelta = timedelta(minutes=5)  # INBOX_AGENT_MIN_INTERVAL: for recurring tasks an agent creates
    # INBOX_AGENT_UNATTENDED_RECURRING=a,b: sessions whose task runs (not chats) may create recurring tasks
    unattended_recurring: frozenset[str] = field(default_factory=frozenset)
    daily_series_tokens: int = 200_000  # INBOX_SERIES_DAILY_TOKENS: a series over this in 24 h pauses ("budget")
    history_tokens: int = 8000  # INBOX_HISTORY_TOKENS: history sent to the model; older turns get summarized
