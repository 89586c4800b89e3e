"""``GET /metrics``: Prometheus metrics, computed from the store at each scrape (any API token: read is enough).

The store's figures are not counted in the host's memory, so every host on a store answers the same, a restart
loses nothing, and there is no counter to reset; the serving host adds a few of its own (its runners, its last
sweep: ``app.state.host_collectors``, set by the host's application). What the store keeps is the queue (its rows
by status, what is due) and the run history; the run figures cover the runs that ended within the last
:data:`WINDOW`, so they are gauges: graph them as they are (``inbox_runs_recent{outcome="failed"}``), not with
``rate()``. Each figure is one indexed query (see :mod:`inbox.store.stats`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inbox.api import Inbox
from inbox.http.auth import check_token
from inbox.http.errors import token_first
from inbox.store import pages, stats
from inbox.store import tokens as token_store

WINDOW = timedelta(hours=1)
WINDOW_LABEL = "1h"

router = APIRouter(route_class=token_first(check_token), dependencies=[Depends(check_token)])


class StoreCollector(Collector):
    """The store's figures, read in one read-only transaction per scrape."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    def collect(self) -> Iterator[Metric]:
        now = self.inbox.clock()
        with pages.reading(self.inbox.engine) as db:
            by_status = stats.live_counts(db)
            due, oldest = stats.due_backlog(db, now=now)
            recent = stats.run_totals(db, since=now - WINDOW)
            late = stats.lateness(db, since=now - WINDOW)
            outbox = stats.outbox_size(db)
            failed = stats.deliveries_failed(db, since=now - WINDOW)
            active_tokens = token_store.count_active(db)

        messages = GaugeMetricFamily(
            "inbox_messages",
            "Inbound rows still ahead of their end (chat messages and task occurrences) by status.",
            labels=["status"],
        )
        for status, count in sorted(by_status.items()):
            messages.add_metric([status], count)
        yield messages
        yield GaugeMetricFamily("inbox_due_backlog", "Pending rows whose time has come, not yet claimed.", value=due)
        yield GaugeMetricFamily(
            "inbox_due_backlog_oldest_seconds",
            "How long the oldest due row has waited (0 when none is due).",
            value=max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0,
        )
        runs = GaugeMetricFamily(
            "inbox_runs_recent", f"Runs that ended in the last {WINDOW_LABEL}, by outcome.", labels=["outcome"]
        )
        for outcome, count in sorted(recent.by_outcome.items()):
            runs.add_metric([outcome], count)
        yield runs
        yield GaugeHistogramMetricFamily(
            "inbox_run_duration_seconds",
            f"How long the runs that ended in the last {WINDOW_LABEL} took.",
            buckets=[(_le(bound), count) for bound, count in recent.cumulative],
            gsum_value=recent.duration_sum_s,
        )
        yield GaugeHistogramMetricFamily(
            "inbox_run_lateness_seconds",
            f"How late the first attempts that ended in the last {WINDOW_LABEL} started after their time came.",
            buckets=[(_le(bound), count) for bound, count in late.cumulative],
            gsum_value=late.sum_s,
        )
        model_tokens = GaugeMetricFamily(
            "inbox_model_tokens_recent",
            f"Model tokens used by the runs that ended in the last {WINDOW_LABEL}.",
            labels=["direction"],
        )
        model_tokens.add_metric(["input"], recent.input_tokens)
        model_tokens.add_metric(["output"], recent.output_tokens)
        yield model_tokens
        yield GaugeMetricFamily("inbox_outbox_items", "Items in the outbox (kept for INBOX_KEEP_OUTBOX_DAYS).", outbox)
        yield GaugeMetricFamily(
            "inbox_deliveries_failed_recent",
            f"Outbox items written in the last {WINDOW_LABEL} whose delivery through their channel failed for good.",
            value=failed,
        )
        yield GaugeMetricFamily(
            "inbox_api_tokens_active", "API tokens in the store that are not revoked.", active_tokens
        )


def _le(bound: float) -> str:
    """A bucket's bound as Prometheus writes it: ``0.5``, ``30.0``, ``+Inf``."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(request.app.state.host.inbox))
    for collector in getattr(request.app.state, "host_collectors", ()):  # the serving host's own figures
        registry.register(collector)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
