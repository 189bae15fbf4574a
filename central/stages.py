"""Stage deadlines of a work order, as pure functions: which stage's clock runs in which state, when
each is due, how an action renews them, and whom a miss goes to.

Stages and their clocks (minutes per priority/kind in ``deadlines.yaml``; see the README):

- acknowledge: from creation, while ``new``
- accept: from dispatch (or a rework), while ``dispatched`` or ``rework``
- arrive: from creation (or a rework), until the department is on site
- feedback: the handling deadline, from creation (or a rework), until the department feeds back;
  an approved extension moves it
- verify: from feedback, while ``fed_back``
- close: from creation, while the order is open; pushed back when a rework or an extension would
  leave too little time to verify

The first missed deadline of an order goes to the department's lead, every later one to the duty lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from central.order_lifecycle import OPEN_STATES, Action, State, Transition
from gridwatch.config.schema import Deadline

STAGES: tuple[str, ...] = ("acknowledge", "accept", "arrive", "feedback", "verify", "close")
DEPARTMENT_LEAD = "department_lead"
DUTY_LEAD = "duty_lead"

_S = State
#: stage -> the states in which its clock runs
RUNNING: dict[str, frozenset[State]] = {
    "acknowledge": frozenset({_S.NEW}),
    "accept": frozenset({_S.DISPATCHED, _S.REWORK}),
    "arrive": frozenset({_S.NEW, _S.ACKNOWLEDGED, _S.DISPATCHED, _S.REWORK, _S.ACCEPTED}),
    "feedback": frozenset({_S.NEW, _S.ACKNOWLEDGED, _S.DISPATCHED, _S.REWORK, _S.ACCEPTED, _S.ON_SITE}),
    "verify": frozenset({_S.FED_BACK}),
    "close": OPEN_STATES,
}
#: action -> the stage it completes
COMPLETES: dict[Action, str] = {
    Action.ACKNOWLEDGE: "acknowledge",
    Action.ACCEPT: "accept",
    Action.ARRIVE: "arrive",
    Action.FEEDBACK: "feedback",
    Action.RESOLVE: "feedback",
    Action.VERIFY: "verify",
    Action.CLOSE: "close",
}


class Clocked(Protocol):
    """What the stage logic reads of a work order."""

    state: str
    acknowledge_by: datetime
    accept_by: datetime | None
    arrive_by: datetime
    feedback_by: datetime | None
    verify_by: datetime | None
    close_by: datetime


def due(wo: Any, stage: str) -> datetime | None:
    return getattr(wo, f"{stage}_by")  # type: ignore[no-any-return]


def running(stage: str, state: str) -> bool:
    return state in RUNNING[stage]


def overdue(wo: Any, now: datetime) -> dict[str, bool]:
    """Per stage: its clock runs and its deadline has passed."""
    out = {}
    for stage in STAGES:
        when = due(wo, stage)
        out[stage] = running(stage, wo.state) and when is not None and now > when
    return out


def missed(wo: Any, now: datetime) -> list[tuple[str, datetime]]:
    """(stage, due) of each missed deadline not noticed yet."""
    return [
        (stage, due(wo, stage))  # type: ignore[misc]
        for stage, late in overdue(wo, now).items()
        if late and getattr(wo, f"{stage}_escalated_at") is None
    ]


def level(misses: int) -> str:
    """Whom a miss goes to: the department's lead first, the duty lead once misses repeat."""
    return DEPARTMENT_LEAD if misses <= 1 else DUTY_LEAD


def initial(rule: Deadline, created: datetime) -> dict[str, datetime]:
    """The deadlines a new order starts with (accept and verify start later)."""
    return {
        "acknowledge_by": created + timedelta(minutes=rule.minutes("acknowledge")),
        "arrive_by": created + timedelta(minutes=rule.minutes("arrive")),
        "feedback_by": created + timedelta(minutes=rule.minutes("feedback")),
        "close_by": created + timedelta(minutes=rule.minutes("close")),
    }


def renewed(
    wo: Any, tr: Transition, rule: Deadline, now: datetime, until: datetime | None = None
) -> dict[str, datetime | None]:
    """Column changes a transition makes to the deadlines (a renewed deadline is noticed afresh)."""

    def after(stage: str, start: datetime) -> datetime:
        return start + timedelta(minutes=rule.minutes(stage))

    out: dict[str, datetime | None] = {}
    verify_len = timedelta(minutes=rule.minutes("verify"))
    if tr.action in (Action.DISPATCH, Action.REASSIGN):
        out |= {"accept_by": after("accept", now), "accept_escalated_at": None}
    elif tr.action in (Action.FEEDBACK, Action.RESOLVE):
        out |= {"verify_by": after("verify", now), "verify_escalated_at": None}
    elif tr.action is Action.VERIFY and tr.to_state is State.REWORK:
        feedback_by = after("feedback", now)
        out |= {
            "accept_by": after("accept", now),
            "arrive_by": after("arrive", now),
            "feedback_by": feedback_by,
            "verify_by": None,
        }
        out |= {f"{s}_escalated_at": None for s in ("accept", "arrive", "feedback", "verify")}
        out |= _close_not_before(wo, feedback_by + verify_len)
    elif tr.action is Action.APPROVE_EXTENSION and until is not None:
        out |= {"feedback_by": until, "feedback_escalated_at": None}
        out |= _close_not_before(wo, until + verify_len)
    return out


def _close_not_before(wo: Any, when: datetime) -> dict[str, datetime | None]:
    if wo.close_by >= when:
        return {}
    return {"close_by": when, "close_escalated_at": None}


def on_time(wo: Any, stage: str, now: datetime) -> tuple[datetime | None, bool]:
    """The deadline a completed stage had, and whether it was met."""
    when = due(wo, stage)
    return when, when is None or now <= when
