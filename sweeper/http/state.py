"""What the host's routes share: the host's inbox, its runners' tokens and doorbells, the model proxy, limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

from fastapi import Request

from inbox.api import Inbox
from inbox.defaults import BACKOFF, DEFAULT_LEASE
from sweeper.http.agent_limits import AgentLimits
from sweeper.http.doorbells import Doorbells
from sweeper.http.model_proxy import ModelProxy
from sweeper.http.requests_held import RequestsHeld
from sweeper.http.runner_auth import RunnerTokens
from sweeper.http_work import HttpWork
from sweeper.meter import TokenMeter
from sweeper.outage import Outage


@dataclass
class HostState:
    """What the routes need from the host that serves them."""

    inbox: Inbox  # acts as "api": what the public API creates carries created_by="api"
    # Set by a route that made work due now (an event that started tasks): the host's loop passes at once instead
    # of noticing the write at its next look (up to 0.1 s on SQLite).
    nudge: threading.Event = field(default_factory=threading.Event)
    admin_token: str | None = None  # INBOX_API_TOKEN, accepted beside the store's tokens; None: the store's only
    runner_tokens: RunnerTokens = field(default_factory=RunnerTokens)
    doorbells: Doorbells = field(default_factory=Doorbells)
    model: ModelProxy | None = None  # None: model requests fail with "no model provider configured"
    meter: TokenMeter = field(default_factory=TokenMeter)  # the tokens each attempt's model calls used
    lease: timedelta = DEFAULT_LEASE
    backoff: tuple[timedelta, ...] = BACKOFF
    agent_limits: AgentLimits = field(default_factory=AgentLimits)
    draining: threading.Event = field(default_factory=threading.Event)  # shutting down: hand out no new work
    http: HttpWork = field(default_factory=HttpWork)  # http tasks' requests (sweeper.http_work)
    http_held: RequestsHeld = field(default_factory=RequestsHeld)  # which runner's requests are under way
    outage: Outage | None = None  # the host's, shared with its loop: a store that cannot be used is told once
    last_sweep_s: float | None = None  # how long this host's latest sweep pass took (GET /metrics)


def host_state(request: Request) -> HostState:
    state: HostState = request.app.state.host
    return state
