"""The console offers exactly the buttons the hub would accept: ``allowed_actions`` agrees with
``decide`` for every state and role (inputs aside, which the forms ask for)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from central.order_lifecycle import (
    Action,
    Forbidden,
    IllegalTransition,
    MissingInput,
    State,
    allowed_actions,
    decide,
)
from central.order_lifecycle import Request as ActionRequest

ROLES = ("dispatcher", "maintainer", "grid_worker", "department", "admin")


@pytest.mark.parametrize("pending", [False, True])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", list(State))
def test_allowed_actions_are_exactly_the_accepted_ones(state: State, role: str, pending: bool) -> None:
    accepted = []
    for action in Action:
        if action is Action.RESOLVE:  # deprecated: still accepted, never offered
            continue
        req = ActionRequest(action=action, role=role, note="done", reason="why", department="environment",
                            has_evidence=True, passed=True, until=datetime(2030, 1, 1, tzinfo=UTC),
                            pending_extension=pending)
        try:
            decide(state, req)
        except (Forbidden, IllegalTransition):
            continue
        except MissingInput as exc:  # pragma: no cover - the request above carries every input
            pytest.fail(f"{action}: {exc}")
        accepted.append(action)
    assert allowed_actions(state, role, pending) == accepted


def test_the_desk_and_the_grid_worker_share_the_work() -> None:
    assert allowed_actions(State.NEW, "dispatcher") == [Action.ACKNOWLEDGE, Action.REJECT]
    assert allowed_actions(State.NEW, "grid_worker") == []
    assert allowed_actions(State.ACCEPTED, "grid_worker") == [Action.ARRIVE, Action.FEEDBACK]
    assert allowed_actions(State.ON_SITE, "grid_worker") == [Action.FEEDBACK]
    assert allowed_actions(State.ON_SITE, "department") == [
        Action.FEEDBACK, Action.REQUEST_EXTENSION, Action.RETURN]
    assert allowed_actions(State.ON_SITE, "dispatcher", pending_extension=True) == [
        Action.APPROVE_EXTENSION, Action.DECLINE_EXTENSION, Action.REJECT, Action.REASSIGN]
    assert allowed_actions(State.FED_BACK, "grid_worker") == [Action.VERIFY]
    assert allowed_actions(State.FED_BACK, "department") == []
    assert allowed_actions(State.VERIFIED, "dispatcher") == [Action.CLOSE]
    assert allowed_actions(State.RETURNED, "dispatcher") == [Action.REJECT, Action.REASSIGN]
    assert allowed_actions(State.REWORK, "department") == [Action.ACCEPT, Action.RETURN]
    assert allowed_actions(State.CLOSED, "admin") == []
    assert allowed_actions(State.DISPATCHED, "maintainer") == []
