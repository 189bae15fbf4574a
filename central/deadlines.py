"""Supervision: which open work orders have missed which stage deadline, and noticing each miss once.

``breaches`` is pure (orders and a time in, misses out; the stage rules are in :mod:`central.stages`).
``escalate`` records a miss with a conditional UPDATE (``... WHERE <stage>_escalated_at IS NULL AND
<stage>_by = <the deadline missed>``) that also counts the order's misses: however many hub processes
run the watcher against one database, exactly one of them wins the row, writes the history entry
(``supervise``) and announces ``work_order.supervised`` on the feed, ``{id, stage, level, misses}``.
The first miss of an order goes to its department's lead; repeated misses go to the duty lead, and
are announced as ``work_order.escalated`` as well. A renewed deadline (a rework, an approved
extension) is watched afresh.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update

from central import order_store, stages
from central.context import Hub
from central.feed import publish
from central.order_lifecycle import TERMINAL, State
from central.tables import HistoryRow, WorkOrder
from gridwatch.config import Town

log = logging.getLogger(__name__)
DEADLINES = stages.STAGES


@dataclass(frozen=True, slots=True)
class Breach:
    work_order_id: int
    deadline: str  # a stage: acknowledge | accept | arrive | feedback | verify | close
    due: datetime


def breaches(items: Iterable[WorkOrder], now: datetime) -> list[Breach]:
    """Missed stage deadlines not yet noticed."""
    out: list[Breach] = []
    for wo in items:
        if State(wo.state) in TERMINAL:
            continue
        out.extend(Breach(wo.id, stage, due) for stage, due in stages.missed(wo, now))
    return out


def lead_of(town: Town) -> str:
    return next(d.id for d in town.departments if d.kind == "lead")


def escalate(hub: Hub, breach: Breach, now: datetime) -> bool:
    """Record one miss; True if this call did it (False: someone else had, or it no longer holds)."""
    stage = breach.deadline
    noticed = getattr(WorkOrder, f"{stage}_escalated_at")
    with hub.db.write() as s:
        res = s.execute(
            update(WorkOrder)
            .where(
                WorkOrder.id == breach.work_order_id,
                noticed.is_(None),
                getattr(WorkOrder, f"{stage}_by") == breach.due,
                WorkOrder.state.in_([x.value for x in stages.RUNNING[stage]]),
            )
            .values(
                {
                    noticed: now,
                    WorkOrder.updated_at: now,
                    WorkOrder.supervision_misses: WorkOrder.supervision_misses + 1,
                }
            )
            .execution_options(synchronize_session=False)
        )
        if cast(CursorResult[Any], res).rowcount != 1:  # an UPDATE's result is a cursor's
            return False
        wo = s.get_one(WorkOrder, breach.work_order_id)
        s.refresh(wo)
        misses = wo.supervision_misses
        level = stages.level(misses)
        to = wo.department_id if level == stages.DEPARTMENT_LEAD else lead_of(hub.town)
        notice = {"stage": stage, "level": level, "misses": misses, "due": breach.due.isoformat(), "to": to}
        s.add(
            HistoryRow(
                work_order_id=wo.id,
                action="supervise",
                from_state=wo.state,
                to_state=wo.state,
                actor="deadline-watcher",
                role="system",
                at=now,
                note=f"missed the {stage} deadline ({breach.due.isoformat()}); notice to the "
                f"{level.replace('_', ' ')} ({to}), miss {misses} of this order",
                attachments=[],
                details=notice | {"deadline": stage},
            )
        )
        summary = order_store.summary(hub.town, wo, now)
        publish(s, "work_order.supervised", summary | notice, now)
        if level == stages.DUTY_LEAD:
            publish(s, "work_order.escalated", summary | {"deadline": stage, "escalated_to": to}, now)
    hub.metrics.escalations.labels(deadline=stage).inc()
    return True


def check_deadlines(hub: Hub, now: datetime) -> list[Breach]:
    """One pass: find misses and notice each; returns those this call noticed."""
    # Only orders with a running stage past its deadline and not noticed yet (what ``breaches``
    # looks for): a pass every few seconds must not load every open order of the county.
    missed = or_(
        *(
            and_(
                WorkOrder.state.in_([x.value for x in stages.RUNNING[st]]),
                getattr(WorkOrder, f"{st}_by") < now,
                getattr(WorkOrder, f"{st}_escalated_at").is_(None),
            )
            for st in stages.STAGES
        )
    )
    with hub.db.read() as s:
        rows = list(s.execute(select(WorkOrder).where(missed)).scalars())
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
