"""What the interfaces answer about events, webhooks and the dependency graph (docs/events.md, docs/hooks.md,
docs/dependencies.md): the same shapes from the CLI's --json, the Python API, HTTP and the agent's tools."""

from __future__ import annotations

from inbox.store.trigger_tables import Dependency
from inbox.views import Frozen, Instant, status_word


class HookInfo(Frozen):
    """A webhook, as ``inbox hook list`` shows it (never its secret). ``url``: the path on the host's HTTP API."""

    name: str
    session: str | None  # None: its events are for every session's tasks (its messages go to "main")
    message: bool
    url: str
    created_at: Instant
    created_by: str


class NewHook(HookInfo):
    """A hook just made, with its secret: shown this once."""

    secret: str


class HookAccepted(Frozen):
    """What a call of a webhook did: the event it emitted (``id``), the tasks it started, and the message it
    dropped into the session (``--message`` hooks). ``duplicate``: the ``Idempotency-Key`` was used within 24 h;
    this is the first call's event and nothing was written."""

    id: str
    name: str
    session: str | None
    matched: list[str]
    duplicate: bool
    message_id: str | None


class EventEmitted(Frozen):
    """What ``inbox emit`` did: the event's id, and the series it started (``matched``; those of them waiting behind
    a running occurrence are also in ``queued``) or did not start because one was already waiting (``coalesced``).
    ``duplicate``: its key was used by an earlier event within 24 h, whose answer this is; nothing was started."""

    id: str
    name: str
    session: str | None  # None: for every session's tasks
    matched: list[str]
    queued: list[str]
    coalesced: list[str]
    duplicate: bool
    created_at: Instant


class EventSeen(Frozen):
    """An event that matched a task, as ``inbox show`` lists it."""

    event_id: str
    name: str
    state: str  # started | queued | coalesced
    message_id: str | None  # the occurrence it started
    created_at: Instant
    created_by: str


class GraphNode(Frozen):
    series_id: str
    name: str | None
    status: str  # as in Task: active | running | paused | ended | cancelled


class GraphEdge(Frozen):
    upstream: str  # series id: the task that runs first
    downstream: str  # series id: the task that runs after it
    when: str


class Graph(Frozen):
    """The dependency graph as ``inbox graph --json`` prints it."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]


def graph_view(heads: list[tuple[str, str | None, str, str | None]], edges: list[Dependency]) -> Graph:
    """``heads``: each node's (series id, name, status, next status) (inbox.store.queries.head_states)."""
    nodes = [
        GraphNode(series_id=sid, name=name, status=status_word(status, following))
        for sid, name, status, following in heads
    ]
    links = [GraphEdge(upstream=e.upstream_id, downstream=e.downstream_id, when=str(e.when)) for e in edges]
    return Graph(nodes=nodes, edges=links)
