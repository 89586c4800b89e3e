"""``inbox graph [ID]``: the dependency graph (docs/dependencies.md); and a task's neighbours for ``inbox show``."""

from __future__ import annotations

import graphlib
from typing import TYPE_CHECKING, Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, print_json, table

if TYPE_CHECKING:
    from inbox.trigger_views import Graph, GraphNode


def _label(node: GraphNode | None, series_id: str) -> str:
    return f"{node.name} ({series_id})" if node is not None and node.name else series_id


def neighbours(found: Graph, series_id: str) -> dict[str, list[GraphNode]]:
    """The tasks ``series_id`` runs after (``upstreams``) and those that run after it (``downstreams``)."""
    nodes = {node.series_id: node for node in found.nodes}
    ups = [nodes[e.upstream] for e in found.edges if e.downstream == series_id and e.upstream in nodes]
    downs = [nodes[e.downstream] for e in found.edges if e.upstream == series_id and e.downstream in nodes]
    return {"upstreams": ups, "downstreams": downs}


def print_neighbours(near: dict[str, list[GraphNode]], when: str | None) -> None:
    lines = {
        "after": ", ".join(f"{_label(n, n.series_id)} [{n.status}]" for n in near["upstreams"]),
        "before": ", ".join(f"{_label(n, n.series_id)} [{n.status}]" for n in near["downstreams"]),
    }
    if lines["after"]:
        lines["after"] += f" (when {when})"
    for key, value in lines.items():
        if value:
            console.print(f"  {key + ':':<10} {value}", highlight=False)


def graph(
    ident: Annotated[str | None, typer.Argument(help="Only the part of the graph this task is in.")] = None,
    as_json: Json = False,
) -> None:
    """The dependency graph: each task, upstream first, with the tasks it runs after."""
    with open_inbox() as inbox:
        found = inbox.graph(ident)
    if as_json:
        print_json(found)
        return
    if not found.edges:
        console.print(
            "No task runs after another." if ident is None else "This task runs after no task, and none after it."
        )
        return
    nodes = {node.series_id: node for node in found.nodes}
    after: dict[str, list[str]] = {node: [] for node in nodes}
    rule: dict[str, str] = {}
    for edge in found.edges:
        after.setdefault(edge.downstream, []).append(edge.upstream)
        rule[edge.downstream] = edge.when
    grid = table("id", "name", "status", "runs after")
    for series_id in graphlib.TopologicalSorter(after).static_order():
        node = nodes.get(series_id)
        ups = ", ".join(_label(nodes.get(up), up) for up in after.get(series_id, []))
        grid.add_row(
            series_id,
            node.name or "-" if node else "-",
            node.status if node else "-",
            f"{ups} ({rule[series_id]})" if ups else "-",
        )
    console.print(grid)


def register(app: typer.Typer) -> None:
    app.command()(graph)
