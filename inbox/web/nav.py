"""The dashboard's pages, in the order the navigation shows them: the one list a new page is added to.

Each entry names the path of its page and the word on its tab. A new page is added here next to its route, and
every page's navigation shows it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavEntry:
    key: str
    label: str
    path: str


NAV: tuple[NavEntry, ...] = (
    NavEntry("tasks", "Tasks", "/tasks"),
    NavEntry("timeline", "Timeline", "/timeline"),
    NavEntry("messages", "Messages", "/messages"),
    NavEntry("outbox", "Outbox", "/outbox"),
    NavEntry("events", "Events", "/events"),
    NavEntry("graph", "Graph", "/graph"),
    NavEntry("stats", "Stats", "/stats"),
    NavEntry("chat", "Chat", "/chat"),
    NavEntry("audit", "Audit", "/audit"),
)
