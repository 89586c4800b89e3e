"""The serving host's own figures for ``GET /metrics``, beside the store's (inbox/http/metrics.py): what only this
host knows, so each host of a store answers its own."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sweeper.http.state import HostState


class HostCollector(Collector):
    def __init__(self, state: HostState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "inbox_host_runners",
            "Runners this host has going (one per session with work).",
            self.state.runner_tokens.live(),
        )
        if self.state.last_sweep_s is not None:
            yield GaugeMetricFamily(
                "inbox_host_sweep_seconds", "How long this host's latest sweep pass took.", self.state.last_sweep_s
            )
