"""The events and hooks page, and the dependency graph page.

Events newest first (filtered by name through its index), each with what it did to every task it matched
(started, queued behind a running occurrence, or coalesced), beside the hooks that emit them; the graph of tasks
that run after others, drawn in layers (upstream left) as server-made SVG, with the same as a table.
"""

from __future__ import annotations

import graphlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import Response

from inbox.event_names import check_name
from inbox.hooks import url_of
from inbox.store import pages, queries, trigger_pages
from inbox.trigger_views import Graph, GraphNode
from inbox.web.access import Viewer, host_inbox, viewer
from inbox.web.common import PAGE, id_cursor, refusing, router, text_filter
from inbox.web.render import page

Seen = Annotated[Viewer, Depends(viewer)]
DATA_SHOWN = 200  # characters of an event's data shown in its row (the rest behind "more")
MOST_DRAWN = 150  # tasks drawn at most; a bigger graph is listed, and drawn one task's part at a time
BOX_W, BOX_H, GAP_X, GAP_Y = 170, 34, 60, 18


@router.get("/events")
def events_page(request: Request, seen: Seen, name: str | None = None, before: str | None = None) -> Response:
    wanted = text_filter(name, "name")
    if wanted is not None:
        with refusing():
            check_name(wanted, field="name")
    with pages.reading(host_inbox(request).engine) as db:
        found = trigger_pages.events_page(db, name=wanted, before=id_cursor(before, "before"), limit=PAGE)
        matches = trigger_pages.matches_of(db, [event.id for event in found.rows])
        names = queries.series_names(db, sorted({m.series_id for ms in matches.values() for m in ms}))
        hooks = trigger_pages.hooks(db)
    return page(
        request,
        "events.html",
        seen,
        title="Events and hooks",
        active="events",
        rows=found.rows,
        matches=matches,
        names=names,
        hooks=hooks,
        hook_url=url_of,
        name=wanted or "",
        shown=_shown,
        following=found.rows[-1].id if found.more and found.rows else None,
    )


def _shown(data: Any) -> str:
    return "" if data is None else json.dumps(data, ensure_ascii=False)


@dataclass(frozen=True)
class Box:
    node: GraphNode
    x: int
    y: int


@dataclass(frozen=True)
class Line:
    x1: int
    y1: int
    x2: int
    y2: int
    when: str
    upstream: str
    downstream: str


@dataclass(frozen=True)
class Drawing:
    boxes: list[Box]
    lines: list[Line]
    width: int
    height: int


def layout(found: Graph) -> Drawing:
    """Each task in the column of its longest chain of upstreams, upstream left; rows in order of ids."""
    after: dict[str, set[str]] = {node.series_id: set() for node in found.nodes}
    for edge in found.edges:
        after.setdefault(edge.downstream, set()).add(edge.upstream)
        after.setdefault(edge.upstream, set())
    depth: dict[str, int] = {}
    for series_id in graphlib.TopologicalSorter(after).static_order():
        depth[series_id] = 1 + max((depth[up] for up in after[series_id]), default=-1)
    nodes = {node.series_id: node for node in found.nodes}
    columns: dict[int, list[str]] = {}
    for series_id in sorted(depth):
        columns.setdefault(depth[series_id], []).append(series_id)
    place: dict[str, tuple[int, int]] = {}
    for column, ids in columns.items():
        for row, series_id in enumerate(ids):
            place[series_id] = (10 + column * (BOX_W + GAP_X), 10 + row * (BOX_H + GAP_Y))
    boxes = [
        Box(nodes.get(sid) or GraphNode(series_id=sid, name=None, status="ended"), x, y)
        for sid, (x, y) in place.items()
    ]
    lines = [
        Line(
            place[e.upstream][0] + BOX_W,
            place[e.upstream][1] + BOX_H // 2,
            place[e.downstream][0],
            place[e.downstream][1] + BOX_H // 2,
            e.when,
            e.upstream,
            e.downstream,
        )
        for e in found.edges
    ]
    width = 20 + (max(columns, default=0) + 1) * (BOX_W + GAP_X)
    height = 20 + max((len(ids) for ids in columns.values()), default=0) * (BOX_H + GAP_Y)
    return Drawing(boxes, lines, width, height)


@router.get("/graph")
def graph_page(request: Request, seen: Seen, task: str | None = None) -> Response:
    ident = text_filter(task, "task")
    with refusing():
        found = host_inbox(request).graph(ident)
    drawn = layout(found) if len(found.nodes) <= MOST_DRAWN else None
    names = {node.series_id: node.name or node.series_id[:8] for node in found.nodes}
    return page(
        request,
        "graph.html",
        seen,
        title="Dependencies",
        active="graph",
        graph=found,
        drawn=drawn,
        names=names,
        statuses={node.series_id: node.status for node in found.nodes},  # a lookup per row, not a walk of the nodes
        task=ident or "",
        box=(BOX_W, BOX_H),
        most=MOST_DRAWN,
        every="30s",
    )
