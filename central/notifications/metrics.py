"""The queue's figures for /metrics, read from the database at scrape time, so every hub process
reports the same numbers whichever of them sends."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from central.db import Database
from central.notifications.queue import counts


class QueueCollector(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        sent = CounterMetricFamily(
            "gridwatch_notifications_sent", "Notification messages delivered, by channel.", labels=["channel"]
        )
        failed = CounterMetricFamily(
            "gridwatch_notifications_failed",
            "Notification messages given up after their last attempt, by channel.",
            labels=["channel"],
        )
        pending = GaugeMetricFamily(
            "gridwatch_notifications_pending",
            "Notification messages waiting to go out, by channel.",
            labels=["channel"],
        )
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "sent": sent, "failed": failed, "pending": pending,
        }
        for channel, state, n in counts(self.db):
            if state in families:
                families[state].add_metric([channel], n)
        yield sent
        yield failed
        yield pending
