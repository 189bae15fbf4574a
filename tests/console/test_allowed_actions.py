"""The console offers exactly the buttons the hub would accept: ``allowed_actions`` agrees with
``decide`` for every state and role (inputs aside, which the forms ask for)."""

from __future__ import annotations

import pytest

from central.workorders import (
    Action,
    Forbidden,
    IllegalTransition,
    MissingInput,
    State,
    allowed_actions,
    decide,
)
from central.workorders import Request as ActionRequest

ROLES = ("dispatcher", "maintainer", "grid_worker", "admin")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("state", list(State))
def test_allowed_actions_are_exactly_the_accepted_ones(state: State, role: str) -> None:
    accepted = []
    for action in Action:
        req = ActionRequest(action=action, role=role, note="done", reason="why", department="environment",
                            has_evidence=True)
        try:
            decide(state, req)
        except (Forbidden, IllegalTransition):
            continue
        except MissingInput as exc:  # pragma: no cover - the request above carries every input
            pytest.fail(f"{action}: {exc}")
        accepted.append(action)
    assert allowed_actions(state, role) == accepted


def test_the_desk_and_the_grid_worker_share_the_work() -> None:
    assert allowed_actions(State.NEW, "dispatcher") == [Action.ACKNOWLEDGE, Action.REJECT]
    assert allowed_actions(State.NEW, "grid_worker") == []
    assert allowed_actions(State.ACCEPTED, "grid_worker") == [Action.ARRIVE]
    assert allowed_actions(State.ON_SITE, "grid_worker") == [Action.RESOLVE]
    assert allowed_actions(State.CLOSED, "admin") == []
    assert allowed_actions(State.DISPATCHED, "maintainer") == []
