"""Evaluation of the handling loop: per department, grid, grid worker, camera or source over a period.

``figures`` is pure (orders with their history in, one row of figures per group out); ``load`` reads
the orders created in the period; ``table`` flattens the figures into the one set of columns the CSV
and XLSX downloads share, so the JSON, the CSV and the spreadsheet say the same numbers.

What each figure means (README, "Evaluation"):

- ``by_state``: the orders of the group in each state now.
- per stage (acknowledge, accept, arrive, feedback, verify, close): ``completed`` steps, of those
  ``on_time`` (done by the deadline the stage had then) and ``on_time_rate``; ``median_s``/``p90_s``:
  seconds per order spent on the stage (from the stage's start to its completion, added up over
  rework rounds): acknowledge from creation, accept from the latest dispatch/reassign/rework, arrive
  and feedback from the latest accept, verify from the feedback, close from the passed verification.
- ``reworks``: failed verifications; ``reworked_orders``: orders with at least one;
  ``rework_rate``: reworked orders / orders fed back at least once.
- ``extensions_*``: requested, approved and declined extensions; ``returns``: orders returned.
- ``false_alarms``: orders rejected as false alarms; ``open_now``/``overdue_now``: of the group's
  orders, those still open / with a stage deadline passed, at the time of the request.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from central import stages
from central.db import Database
from central.order_lifecycle import TERMINAL, State
from central.tables import HistoryRow, WorkOrder
from gridwatch.config import Town

GROUPS: tuple[str, ...] = ("department", "grid", "worker", "camera", "source")
STAGES = stages.STAGES
#: step (a failed verification is "rework") -> the stages it starts / completes
_STARTS: dict[str, tuple[str, ...]] = {
    "create": ("acknowledge",),
    "dispatch": ("accept",),
    "reassign": ("accept",),
    "rework": ("accept",),
    "accept": ("arrive", "feedback"),
    "feedback": ("verify",),
    "verify": ("close",),
}
_COMPLETES: dict[str, str] = {
    "acknowledge": "acknowledge",
    "accept": "accept",
    "arrive": "arrive",
    "feedback": "feedback",
    "verify": "verify",
    "rework": "verify",
    "close": "close",
}


@dataclass
class _Group:
    key: str | None
    name: str
    orders: int = 0
    by_state: dict[str, int] = field(default_factory=lambda: {s.value: 0 for s in State})
    completed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    on_time: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    seconds: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})
    reworks: int = 0
    reworked_orders: int = 0
    fed_back_orders: int = 0
    extensions_requested: int = 0
    extensions_approved: int = 0
    extensions_declined: int = 0
    returns: int = 0
    false_alarms: int = 0
    open_now: int = 0
    overdue_now: int = 0


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(xs[lo] + (xs[hi] - xs[lo]) * (pos - lo), 3)


def _rate(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def group_key(wo: WorkOrder, group_by: str) -> str | None:
    return {
        "department": wo.department_id,
        "grid": wo.grid_id,
        "worker": wo.assignee_id,
        "camera": wo.camera_id,
        "source": wo.source,
    }[group_by]


def group_name(town: Town, group_by: str, key: str | None) -> str:
    if key is None:
        return ""
    if group_by == "department":
        dep = next((d for d in town.departments if d.id == key), None)
        return dep.name if dep else key
    if group_by == "grid":
        grid = next((g for g in town.grids if g.id == key), None)
        return grid.name if grid else key
    if group_by == "worker":
        worker = next((g.worker for g in town.grids if g.worker.id == key), None)
        return worker.name if worker else key
    if group_by == "camera":
        cam = town.cameras_by_id().get(key)
        return cam.name if cam else key
    return key


def _order_into(g: _Group, wo: WorkOrder, history: Iterable[HistoryRow], now: datetime) -> None:
    g.orders += 1
    g.by_state[wo.state] = g.by_state.get(wo.state, 0) + 1
    if State(wo.state) not in TERMINAL:
        g.open_now += 1
        if any(stages.overdue(wo, now).values()):
            g.overdue_now += 1
    if wo.state == State.REJECTED.value:
        g.false_alarms += 1
    started: dict[str, datetime] = {}
    spent: dict[str, float] = {}
    reworks = feedbacks = 0
    for h in history:
        details = h.details or {}
        step = "rework" if h.action == "verify" and details.get("passed") is False else h.action
        reworks += step == "rework"
        feedbacks += step == "feedback"
        g.extensions_requested += step == "request_extension"
        g.extensions_approved += step == "approve_extension"
        g.extensions_declined += step == "decline_extension"
        g.returns += step == "return"
        done = _COMPLETES.get(step)
        if done is not None:
            if done in started:
                spent[done] = spent.get(done, 0.0) + (h.at - started.pop(done)).total_seconds()
            if "on_time" in details:  # recorded with the step (see central.order_store.apply)
                g.completed[done] += 1
                g.on_time[done] += bool(details["on_time"])
        for stage in _STARTS.get(step, ()):
            started[stage] = h.at
    for stage, seconds in spent.items():
        g.seconds[stage].append(seconds)
    g.reworks += reworks
    g.reworked_orders += reworks > 0
    g.fed_back_orders += feedbacks > 0


def figures(
    town: Town,
    rows: Iterable[tuple[WorkOrder, list[HistoryRow]]],
    group_by: str,
    now: datetime,
) -> list[dict[str, Any]]:
    """One dict of figures per group, groups sorted by key (no key last)."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by must be one of {', '.join(GROUPS)}")
    groups: dict[str | None, _Group] = {}
    for wo, history in rows:
        key = group_key(wo, group_by)
        if group_by == "camera" and key is None:
            continue  # not a camera's order
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group(key=key, name=group_name(town, group_by, key))
        _order_into(g, wo, history, now)
    return [_as_json(groups[k]) for k in sorted(groups, key=lambda k: (k is None, k or ""))]


def _as_json(g: _Group) -> dict[str, Any]:
    return {
        "key": g.key,
        "name": g.name,
        "orders": g.orders,
        "by_state": g.by_state,
        "stages": {
            s: {
                "completed": g.completed[s],
                "on_time": g.on_time[s],
                "on_time_rate": _rate(g.on_time[s], g.completed[s]),
                "orders_timed": len(g.seconds[s]),
                "median_s": quantile(g.seconds[s], 0.5),
                "p90_s": quantile(g.seconds[s], 0.9),
            }
            for s in STAGES
        },
        "reworks": g.reworks,
        "reworked_orders": g.reworked_orders,
        "rework_rate": _rate(g.reworked_orders, g.fed_back_orders),
        "extensions_requested": g.extensions_requested,
        "extensions_approved": g.extensions_approved,
        "extensions_declined": g.extensions_declined,
        "returns": g.returns,
        "false_alarms": g.false_alarms,
        "open_now": g.open_now,
        "overdue_now": g.overdue_now,
    }


_STAGE_FIELDS = ("completed", "on_time", "on_time_rate", "orders_timed", "median_s", "p90_s")
_TAIL = (
    "reworks",
    "reworked_orders",
    "rework_rate",
    "extensions_requested",
    "extensions_approved",
    "extensions_declined",
    "returns",
    "false_alarms",
    "open_now",
    "overdue_now",
)


def columns() -> list[str]:
    """The columns of the CSV and XLSX downloads."""
    return [
        "key",
        "name",
        "orders",
        *(f"state_{s.value}" for s in State),
        *(f"{stage}_{f}" for stage in STAGES for f in _STAGE_FIELDS),
        *_TAIL,
    ]


def table(groups: list[dict[str, Any]]) -> list[list[Any]]:
    """The figures as rows in :func:`columns` order (None where a figure has no value)."""
    out = []
    for g in groups:
        row: list[Any] = [g["key"], g["name"], g["orders"]]
        row += [g["by_state"][s.value] for s in State]
        row += [g["stages"][stage][f] for stage in STAGES for f in _STAGE_FIELDS]
        row += [g[k] for k in _TAIL]
        out.append(row)
    return out


def load(
    db: Database, start: datetime, end: datetime, departments: list[str] | None = None
) -> list[tuple[WorkOrder, list[HistoryRow]]]:
    """Orders created in [start, end] (of ``departments`` only, when given) with their history."""
    conds = [WorkOrder.created_at >= start, WorkOrder.created_at <= end]
    if departments is not None:
        conds.append(WorkOrder.department_id.in_(departments))
    with db.read() as s:
        orders = list(s.execute(select(WorkOrder).where(*conds).order_by(WorkOrder.id)).scalars())
        history: dict[int, list[HistoryRow]] = defaultdict(list)
        ids = [wo.id for wo in orders]
        for i in range(0, len(ids), 1000):
            chunk = ids[i : i + 1000]
            q = select(HistoryRow).where(HistoryRow.work_order_id.in_(chunk)).order_by(HistoryRow.id)
            for h in s.execute(q).scalars():
                history[h.work_order_id].append(h)
        s.expunge_all()
    return [(wo, history[wo.id]) for wo in orders]
