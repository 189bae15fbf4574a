"""Deadlines: which open work orders have missed which deadline, and escalating each miss once.

``breaches`` is pure (orders and a time in, misses out). ``escalate`` records a miss with a
conditional UPDATE (``... WHERE <deadline>_escalated_at IS NULL``): however many hub processes run the
watcher against one database, exactly one of them wins the row, writes the history entry for the
duty lead and announces it on the feed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update

from central import orders
from central.context import Hub
from central.feed import publish
from central.models import HistoryRow, WorkOrder
from central.workorders import TERMINAL, State
from gridwatch.config import Town

log = logging.getLogger(__name__)
DEADLINES = ("acknowledge", "arrive", "close")


@dataclass(frozen=True, slots=True)
class Breach:
    work_order_id: int
    deadline: str  # acknowledge | arrive | close
    due: datetime


def breaches(items: Iterable[WorkOrder], now: datetime) -> list[Breach]:
    """Missed deadlines not yet escalated."""
    out: list[Breach] = []
    for wo in items:
        if State(wo.state) in TERMINAL:
            continue
        checks = (
            ("acknowledge", wo.acknowledge_by, wo.acknowledged_at),
            ("arrive", wo.arrive_by, wo.arrived_at),
            ("close", wo.close_by, wo.closed_at),
        )
        for name, due, done in checks:
            if done is None and now > due and getattr(wo, f"{name}_escalated_at") is None:
                out.append(Breach(wo.id, name, due))
    return out


def lead_of(town: Town) -> str:
    return next(d.id for d in town.departments if d.kind == "lead")


def escalate(hub: Hub, breach: Breach, now: datetime) -> bool:
    """Record one breach; True if this call did it (False: someone else already had)."""
    col = getattr(WorkOrder, f"{breach.deadline}_escalated_at")
    lead = lead_of(hub.town)
    with hub.db.write() as s:
        res = s.execute(
            update(WorkOrder)
            .where(WorkOrder.id == breach.work_order_id, col.is_(None))
            .values({col: now, WorkOrder.updated_at: now})
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], res).rowcount != 1:  # an UPDATE's result is a cursor's
            return False
        wo = s.get_one(WorkOrder, breach.work_order_id)
        s.refresh(wo)
        s.add(
            HistoryRow(
                work_order_id=wo.id,
                action="escalate",
                from_state=wo.state,
                to_state=wo.state,
                actor="deadline-watcher",
                role="system",
                at=now,
                note=f"missed the {breach.deadline} deadline ({breach.due.isoformat()}); escalated to {lead}",
                attachments=[],
                details={"deadline": breach.deadline, "to": lead, "due": breach.due.isoformat()},
            )
        )
        publish(
            s,
            "work_order.escalated",
            orders.summary(hub.town, wo, now) | {"deadline": breach.deadline, "escalated_to": lead},
            now,
        )
    hub.metrics.escalations.labels(deadline=breach.deadline).inc()
    return True


def check_deadlines(hub: Hub, now: datetime) -> list[Breach]:
    """One pass: find misses and escalate each; returns those this call escalated."""
    open_states = [s.value for s in State if s not in TERMINAL]
    # Only orders with a deadline past and neither met nor escalated (what ``breaches`` looks for):
    # a pass every few seconds must not load every open order of the county.
    done = {
        "acknowledge": WorkOrder.acknowledged_at,
        "arrive": WorkOrder.arrived_at,
        "close": WorkOrder.closed_at,
    }
    missed = or_(
        *(
            and_(
                done[d].is_(None),
                getattr(WorkOrder, f"{d}_by") < now,
                getattr(WorkOrder, f"{d}_escalated_at").is_(None),
            )
            for d in DEADLINES
        )
    )
    with hub.db.read() as s:
        rows = list(s.execute(select(WorkOrder).where(WorkOrder.state.in_(open_states), missed)).scalars())
    return [b for b in breaches(rows, now) if escalate(hub, b, now)]


class Watcher:
    """Runs ``step(now)`` every ``interval_s`` on a thread until stopped; the clock is injected."""

    def __init__(
        self, name: str, step: Callable[[datetime], object], clock: Callable[[], datetime], interval_s: float
    ) -> None:
        self.name, self.step, self.clock, self.interval_s = name, step, clock, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> object:
        return self.step(self.clock())

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:  # a failed pass is retried next interval; the loop must not die
                log.exception("%s: pass failed", self.name)


class DeadlineWatcher(Watcher):
    """Checks deadlines every ``interval_s`` with the hub's clock."""

    def __init__(self, hub: Hub, interval_s: float) -> None:
        super().__init__("deadline-watcher", lambda now: check_deadlines(hub, now), hub.clock, interval_s)
