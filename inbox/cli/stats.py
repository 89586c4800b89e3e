"""``inbox stats [ID] [--since DUR] [--json]``: what ran, how well, how long, how late, and the tokens it cost."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from inbox.cli.options import Json, open_inbox
from inbox.cli.render import console, print_json, table, when
from inbox.stats_window import DEFAULT_SINCE

if TYPE_CHECKING:
    from inbox.api_stats import StatsReport


def _seconds(value: float | None) -> str:
    """A quantile's bucket bound: the quantile is at most this."""
    if value is None:
        return "-"
    return f"<= {value * 1000:g} ms" if value < 1 else f"<= {value:g} s"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print(report: StatsReport) -> None:
    subject = (
        f"{report.name or report.series_id} ({report.series_id})" if report.series_id else "all tasks and messages"
    )
    console.print(f"Stats of {subject}, runs ended {when(report.since)} .. {when(report.until)}", highlight=False)
    outcomes = ", ".join(f"{outcome} {count}" for outcome, count in report.by_outcome.items()) or "none"
    lines = {
        "runs": f"{report.runs} ({outcomes})",
        "success": f"{_rate(report.success_rate)} of the runs that attempted something (skipped and missed aside)",
        "duration": f"p50 {_seconds(report.duration_p50_s)}, p95 {_seconds(report.duration_p95_s)}",
        "lateness": f"p50 {_seconds(report.lateness_p50_s)}, p99 {_seconds(report.lateness_p99_s)} (first attempts)",
        "tokens": f"{report.input_tokens} in, {report.output_tokens} out",
    }
    for key, value in lines.items():
        console.print(f"  {key + ':':<10} {value}", highlight=False)
    if report.per_day:
        grid = table("day (UTC)", "runs", "failures", "tokens in", "tokens out")
        for day in report.per_day:
            grid.add_row(
                day.day.isoformat(), *(str(n) for n in (day.runs, day.failures, day.input_tokens, day.output_tokens))
            )
        console.print(grid)
    if report.busiest:
        grid = table("task", "name", "runs", "success", "outcomes")
        for one in report.busiest:
            counts = ", ".join(f"{outcome} {n}" for outcome, n in one.by_outcome.items())
            grid.add_row(one.series_id, one.name or "-", str(one.runs), _rate(one.success_rate), counts)
        console.print(grid)


def stats(
    ident: Annotated[str | None, typer.Argument(help="A task's id or name: its stats only.")] = None,
    since: Annotated[str, typer.Option("--since", help="How far back: runs that ended within this, e.g. 1d, 7d.")] = (
        DEFAULT_SINCE
    ),
    as_json: Json = False,
) -> None:
    """Runs by outcome, success rate, duration and lateness quantiles, and tokens per day."""
    with open_inbox() as inbox:
        report = inbox.stats(ident, since=since)
    if as_json:
        print_json(report)
    else:
        _print(report)


def register(app: typer.Typer) -> None:
    app.command()(stats)
