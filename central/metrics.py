"""Prometheus metrics on a registry of this app's own (never the process-wide default).

Counts that live in the database (cameras by status, incidents and work orders by state, deadline
breaches) are read at scrape time, so every hub process reports the same truth; per-process figures
(alerts received, intake latency) are ordinary counters and histograms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from central.health import count_by_status
from central.stages import STAGES
from central.tables import Incident, WorkOrder

if TYPE_CHECKING:
    from central.db import Database


class _DbCollector(Collector):
    def __init__(self, db: Database, camera_statuses: Callable[[], dict[str, str]]) -> None:
        self.db, self.camera_statuses = db, camera_statuses

    def collect(self) -> Iterator[GaugeMetricFamily]:
        cams = GaugeMetricFamily(
            "gridwatch_cameras", "Configured cameras by status (switched-off ones: disabled).",
            labels=["status"],
        )
        for status, n in count_by_status(self.camera_statuses().values()).items():
            cams.add_metric([status], n)
        yield cams
        inc = GaugeMetricFamily("gridwatch_incidents", "Incidents by state.", labels=["state"])
        wo = GaugeMetricFamily("gridwatch_work_orders", "Work orders by state.", labels=["state"])
        br = GaugeMetricFamily(
            "gridwatch_deadline_breaches", "Work orders with a noticed miss per stage.", labels=["deadline"]
        )
        with self.db.read() as s:
            for state, n in s.execute(select(Incident.state, func.count()).group_by(Incident.state)):
                inc.add_metric([state], n)
            for state, n in s.execute(select(WorkOrder.state, func.count()).group_by(WorkOrder.state)):
                wo.add_metric([state], n)
            for name in STAGES:
                col = getattr(WorkOrder, f"{name}_escalated_at")
                n = s.execute(
                    select(func.count()).select_from(WorkOrder).where(col.is_not(None))
                ).scalar_one()
                br.add_metric([name], n)
        yield inc
        yield wo
        yield br


class HubMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.alerts = Counter(
            "gridwatch_alerts_received",
            "Alerts received.",
            ["kind", "phase", "duplicate"],
            registry=self.registry,
        )
        self.intake_seconds = Histogram(
            "gridwatch_intake_seconds",
            "Time to take in one alert.",
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.escalations = Counter(
            "gridwatch_escalations",
            "Deadline escalations made by this process.",
            ["deadline"],
            registry=self.registry,
        )
        self.heartbeats = Counter(
            "gridwatch_heartbeats_received", "Heartbeats received.", ["node"], registry=self.registry
        )

    def attach_db(self, db: Database, camera_statuses: Callable[[], dict[str, str]]) -> None:
        """Report the database's counts (read at scrape time) on this registry."""
        self.registry.register(_DbCollector(db, camera_statuses))

    def render(self) -> bytes:
        return generate_latest(self.registry)
