"""The work-order life cycle as a pure state machine: which action moves which state, who may do it,
and what each needs. The store applies a :class:`Transition`; nothing here touches the database.

    new -> acknowledged -> dispatched -> accepted -> on_site -> resolved -> closed
    reject (false alarm) from any open state before resolved -> rejected
    reassign from acknowledged/dispatched/accepted/on_site -> dispatched (new department/assignee)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class State(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    ON_SITE = "on_site"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    ARRIVE = "arrive"
    RESOLVE = "resolve"
    CLOSE = "close"
    REJECT = "reject"
    REASSIGN = "reassign"


TERMINAL = frozenset({State.CLOSED, State.REJECTED})
OPEN_STATES = frozenset(State) - TERMINAL

#: action -> (states it may start from, state it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[State], State]] = {
    Action.ACKNOWLEDGE: (frozenset({State.NEW}), State.ACKNOWLEDGED),
    Action.DISPATCH: (frozenset({State.ACKNOWLEDGED}), State.DISPATCHED),
    Action.ACCEPT: (frozenset({State.DISPATCHED}), State.ACCEPTED),
    Action.ARRIVE: (frozenset({State.ACCEPTED}), State.ON_SITE),
    Action.RESOLVE: (frozenset({State.ON_SITE}), State.RESOLVED),
    Action.CLOSE: (frozenset({State.RESOLVED}), State.CLOSED),
    Action.REJECT: (
        frozenset({State.NEW, State.ACKNOWLEDGED, State.DISPATCHED, State.ACCEPTED, State.ON_SITE}),
        State.REJECTED,
    ),
    Action.REASSIGN: (
        frozenset({State.ACKNOWLEDGED, State.DISPATCHED, State.ACCEPTED, State.ON_SITE}),
        State.DISPATCHED,
    ),
}

#: action -> roles allowed to take it. The centre's desk runs the order; the grid worker works it.
ROLES: dict[Action, frozenset[str]] = {
    Action.ACKNOWLEDGE: frozenset({"dispatcher", "admin"}),
    Action.DISPATCH: frozenset({"dispatcher", "admin"}),
    Action.ACCEPT: frozenset({"grid_worker", "dispatcher", "admin"}),
    Action.ARRIVE: frozenset({"grid_worker", "admin"}),
    Action.RESOLVE: frozenset({"grid_worker", "admin"}),
    Action.CLOSE: frozenset({"dispatcher", "admin"}),
    Action.REJECT: frozenset({"dispatcher", "admin"}),
    Action.REASSIGN: frozenset({"dispatcher", "admin"}),
}


class IllegalTransition(Exception):
    """The action does not apply to the order's state (HTTP 409)."""


class Forbidden(Exception):
    """The caller's role may not take this action (HTTP 403)."""


class MissingInput(Exception):
    """The action lacks what it needs: a note, a reason, evidence, a department (HTTP 422)."""


@dataclass(frozen=True, slots=True)
class Request:
    action: Action
    role: str
    note: str = ""
    reason: str = ""
    department: str | None = None
    assignee: str | None = None
    has_evidence: bool = False


@dataclass(frozen=True, slots=True)
class Transition:
    action: Action
    from_state: State
    to_state: State


def decide(state: State, req: Request) -> Transition:
    """Check role, state and inputs; return the transition or raise why not."""
    if req.role not in ROLES[req.action]:
        raise Forbidden(
            f"role {req.role!r} may not {req.action} (allowed: {', '.join(sorted(ROLES[req.action]))})"
        )
    sources, target = TRANSITIONS[req.action]
    if state not in sources:
        legal = ", ".join(a.value for a in legal_actions(state)) or "none"
        raise IllegalTransition(f"cannot {req.action} a work order that is {state} (possible now: {legal})")
    if req.action is Action.RESOLVE:
        if not req.note.strip():
            raise MissingInput("resolve needs a note saying what was done")
        if not req.has_evidence:
            raise MissingInput("resolve needs an evidence photo (base64 JPEG in 'evidence')")
    if req.action is Action.REJECT and not req.reason.strip():
        raise MissingInput("reject needs a reason")
    if req.action is Action.REASSIGN and not (req.department or req.assignee):
        raise MissingInput("reassign needs a department or an assignee")
    return Transition(action=req.action, from_state=state, to_state=target)


def legal_actions(state: State) -> list[Action]:
    return [a for a, (sources, _) in TRANSITIONS.items() if state in sources]


def allowed_actions(state: State, role: str) -> list[Action]:
    """What ``role`` may do to an order in ``state`` now: the buttons a console offers."""
    return [a for a in legal_actions(state) if role in ROLES[a]]
