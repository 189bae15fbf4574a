"""The work-order life cycle as a pure state machine: which action moves which state, who may do it,
and what each needs. The store applies a :class:`Transition`; nothing here touches the database.

The town's loop (filed -> dispatched -> handled by the department -> verified on site -> closed)::

    new -acknowledge-> acknowledged -dispatch-> dispatched -accept-> accepted -arrive-> on_site
    accepted | on_site -feedback-> fed_back -verify(pass)-> verified -close-> closed
                                   fed_back -verify(fail)-> rework -accept-> accepted ...
    dispatched | accepted | on_site | rework -return-> returned -reassign-> dispatched
    accepted | on_site: request_extension, then approve_extension | decline_extension (state kept)
    reject (false alarm) from any open state before feedback -> rejected
    reassign from acknowledged .. on_site, returned, rework -> dispatched (new department/assignee)

``resolve`` is the deprecated name of ``feedback`` (one photo in ``evidence``); it does the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from central.roles import Role


class State(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    ON_SITE = "on_site"
    FED_BACK = "fed_back"  # the department says it is done: awaiting verification on site
    VERIFIED = "verified"
    REWORK = "rework"  # verification failed: back to the same department
    RETURNED = "returned"  # the department says it is not theirs: the dispatcher reassigns
    CLOSED = "closed"
    REJECTED = "rejected"


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    DISPATCH = "dispatch"
    ACCEPT = "accept"
    ARRIVE = "arrive"
    FEEDBACK = "feedback"
    RESOLVE = "resolve"  # deprecated alias of feedback
    REQUEST_EXTENSION = "request_extension"
    APPROVE_EXTENSION = "approve_extension"
    DECLINE_EXTENSION = "decline_extension"
    RETURN = "return"
    VERIFY = "verify"
    CLOSE = "close"
    REJECT = "reject"
    REASSIGN = "reassign"


TERMINAL = frozenset({State.CLOSED, State.REJECTED})
OPEN_STATES = frozenset(State) - TERMINAL
HANDLING = frozenset({State.ACCEPTED, State.ON_SITE})  # the department is at work
#: Actions that record a step without moving the state.
STAYING = frozenset({Action.REQUEST_EXTENSION, Action.APPROVE_EXTENSION, Action.DECLINE_EXTENSION})
#: Actions that need a pending extension request (and request_extension needs none pending).
ON_EXTENSION = frozenset({Action.APPROVE_EXTENSION, Action.DECLINE_EXTENSION})
MAX_PHOTOS = 5

_BEFORE_FEEDBACK = frozenset(
    {State.NEW, State.ACKNOWLEDGED, State.DISPATCHED, State.ACCEPTED, State.ON_SITE, State.RETURNED}
)

#: action -> (states it may start from, state it leads to; verify's failure leads to rework instead,
#: and the STAYING actions keep the state they start from)
TRANSITIONS: dict[Action, tuple[frozenset[State], State | None]] = {
    Action.ACKNOWLEDGE: (frozenset({State.NEW}), State.ACKNOWLEDGED),
    Action.DISPATCH: (frozenset({State.ACKNOWLEDGED}), State.DISPATCHED),
    Action.ACCEPT: (frozenset({State.DISPATCHED, State.REWORK}), State.ACCEPTED),
    Action.ARRIVE: (frozenset({State.ACCEPTED}), State.ON_SITE),
    Action.FEEDBACK: (HANDLING, State.FED_BACK),
    Action.RESOLVE: (HANDLING, State.FED_BACK),
    Action.REQUEST_EXTENSION: (HANDLING, None),
    Action.APPROVE_EXTENSION: (HANDLING, None),
    Action.DECLINE_EXTENSION: (HANDLING, None),
    Action.RETURN: (
        frozenset({State.DISPATCHED, State.ACCEPTED, State.ON_SITE, State.REWORK}),
        State.RETURNED,
    ),
    Action.VERIFY: (frozenset({State.FED_BACK}), State.VERIFIED),
    Action.CLOSE: (frozenset({State.VERIFIED}), State.CLOSED),
    Action.REJECT: (_BEFORE_FEEDBACK, State.REJECTED),
    Action.REASSIGN: (
        frozenset(
            {
                State.ACKNOWLEDGED,
                State.DISPATCHED,
                State.ACCEPTED,
                State.ON_SITE,
                State.RETURNED,
                State.REWORK,
            }
        ),
        State.DISPATCHED,
    ),
}

_DESK = frozenset({Role.DISPATCHER.value, Role.ADMIN.value})
_HANDLERS = frozenset({Role.DEPARTMENT.value, Role.GRID_WORKER.value, Role.ADMIN.value})

#: action -> roles allowed to take it. The centre's desk runs the order; the department handles it
#: (a grid worker may still handle it for a department without accounts); the grid worker verifies.
ROLES: dict[Action, frozenset[str]] = {
    Action.ACKNOWLEDGE: _DESK,
    Action.DISPATCH: _DESK,
    Action.ACCEPT: _HANDLERS | {Role.DISPATCHER.value},
    Action.ARRIVE: _HANDLERS,
    Action.FEEDBACK: _HANDLERS,
    Action.RESOLVE: _HANDLERS,
    Action.REQUEST_EXTENSION: frozenset({Role.DEPARTMENT.value, Role.ADMIN.value}),
    Action.APPROVE_EXTENSION: _DESK,
    Action.DECLINE_EXTENSION: _DESK,
    Action.RETURN: frozenset({Role.DEPARTMENT.value, Role.ADMIN.value}),
    Action.VERIFY: _DESK | {Role.GRID_WORKER.value},
    Action.CLOSE: _DESK,
    Action.REJECT: _DESK,
    Action.REASSIGN: _DESK,
}


class IllegalTransition(Exception):
    """The action does not apply to the order as it is now: its state, a pending extension or not,
    its current deadline (HTTP 409)."""


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
    #: Photos that came with the request (feedback's ``photos``, resolve's ``evidence``, verify's).
    has_evidence: bool = False
    photos: int = 0
    #: verify: did the work pass on site?
    passed: bool | None = None
    #: request_extension: the new handling deadline asked for, and the current one.
    until: datetime | None = None
    handling_due: datetime | None = None
    #: Whether an extension request is waiting for the dispatcher.
    pending_extension: bool = False

    @property
    def photo_count(self) -> int:
        return max(self.photos, 1 if self.has_evidence else 0)


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
        legal = ", ".join(a.value for a in legal_actions(state, req.pending_extension)) or "none"
        raise IllegalTransition(f"cannot {req.action} a work order that is {state} (possible now: {legal})")
    if req.action in ON_EXTENSION and not req.pending_extension:
        raise IllegalTransition(f"cannot {req.action}: no extension request is pending")
    if req.action is Action.REQUEST_EXTENSION and req.pending_extension:
        raise IllegalTransition(
            f"cannot {req.action}: an extension request is already pending (the dispatcher decides first)"
        )
    _check_inputs(req)
    if req.action is Action.VERIFY and not req.passed:
        target = State.REWORK
    return Transition(action=req.action, from_state=state, to_state=target or state)


def _check_inputs(req: Request) -> None:
    a = req.action
    if a in (Action.FEEDBACK, Action.RESOLVE):
        if not req.note.strip():
            raise MissingInput(f"{a} needs a note saying what was done")
        if req.photo_count < 1:
            field = "evidence" if a is Action.RESOLVE else "photos"
            raise MissingInput(f"{a} needs at least one photo (base64 JPEG in {field!r})")
    if req.photo_count > MAX_PHOTOS:
        raise MissingInput(f"at most {MAX_PHOTOS} photos")
    if a in (Action.REJECT, Action.RETURN, Action.REQUEST_EXTENSION) and not req.reason.strip():
        raise MissingInput(f"{a} needs a reason")
    if a is Action.REQUEST_EXTENSION:
        if req.until is None:
            raise MissingInput("request_extension needs 'until', the new handling deadline (ISO time)")
        if req.handling_due is not None and req.until <= req.handling_due:
            # the order as it is now (its deadline) refuses it, not the request's form: a conflict
            raise IllegalTransition(
                f"'until' must be later than the current handling deadline ({req.handling_due.isoformat()})"
            )
    if a is Action.VERIFY:
        if req.passed is None:
            raise MissingInput("verify needs 'passed' (true or false)")
        if not req.passed and req.photo_count < 1:
            raise MissingInput("a failed verification needs at least one photo (base64 JPEG in 'photos')")
        if not req.passed and not req.note.strip():
            raise MissingInput("a failed verification needs a note saying what is still wrong")
    if a is Action.REASSIGN and not (req.department or req.assignee):
        raise MissingInput("reassign needs a department or an assignee")


def legal_actions(state: State, pending_extension: bool = False) -> list[Action]:
    """Actions the order's state allows now (roles aside)."""
    out: list[Action] = []
    for a, (sources, _) in TRANSITIONS.items():
        if state not in sources:
            continue
        if a in ON_EXTENSION and not pending_extension:
            continue
        if a is Action.REQUEST_EXTENSION and pending_extension:
            continue
        if a is Action.RESOLVE:  # deprecated: not offered, still accepted
            continue
        out.append(a)
    return out


def allowed_actions(state: State, role: str, pending_extension: bool = False) -> list[Action]:
    """What ``role`` may do to an order in ``state`` now: the buttons a console offers."""
    return [a for a in legal_actions(state, pending_extension) if role in ROLES[a]]
