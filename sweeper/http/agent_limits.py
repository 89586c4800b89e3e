"""Limits on what an agent may schedule, enforced by the host whatever the model asks (docs/agent.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from inbox.config import Settings
from inbox.schedules import parse_duration


@dataclass(frozen=True)
class AgentLimits:
    max_live_tasks: int = 50  # INBOX_AGENT_MAX_TASKS: live series per session
    min_interval: timedelta = timedelta(minutes=5)  # INBOX_AGENT_MIN_INTERVAL: for recurring tasks an agent creates
    # INBOX_AGENT_UNATTENDED_RECURRING=a,b: sessions whose task runs (not chats) may create recurring tasks
    unattended_recurring: frozenset[str] = field(default_factory=frozenset)
    daily_series_tokens: int = 200_000  # INBOX_SERIES_DAILY_TOKENS: a series over this in 24 h pauses ("budget")
    history_tokens: int = 8000  # INBOX_HISTORY_TOKENS: history sent to the model; older turns get summarized

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentLimits:
        sessions = settings.get("INBOX_AGENT_UNATTENDED_RECURRING", "") or ""
        interval = settings.get("INBOX_AGENT_MIN_INTERVAL")
        return cls(
            max_live_tasks=int(settings.number("INBOX_AGENT_MAX_TASKS", 50)),
            min_interval=parse_duration(interval, field="INBOX_AGENT_MIN_INTERVAL") if interval else cls.min_interval,
            unattended_recurring=frozenset(s.strip() for s in sessions.split(",") if s.strip()),
            daily_series_tokens=int(settings.number("INBOX_SERIES_DAILY_TOKENS", 200_000)),
            history_tokens=int(settings.number("INBOX_HISTORY_TOKENS", 8000)),
        )
