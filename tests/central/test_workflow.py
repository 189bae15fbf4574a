"""The handling loop over the API: departments as actors, feedback with photos, verification and
rework, extensions, returns, camera verification, and for every new action its role check (403),
illegal-transition answer (409) and missing-input answer (422)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from central.auth import authenticate, store_token
from tests.central.conftest import alert, b64, jpeg, make_hub

PHOTO = b64(jpeg())


def _order(hub, **kw: Any) -> int:
    r = hub.post_alert(alert(snapshot=jpeg(), **kw))
    assert r.status_code == 201, r.text
    return r.json()["work_order_id"]


def _get(hub, oid: int, who: str = "admin") -> Any:
    return hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth(who))


def _steps(hub, oid: int, steps: list[tuple[str, str, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for who, action, extra in steps:
        hub.clock.advance(minutes=1)
        r = hub.act(oid, who, action, **extra)
        assert r.status_code == 200, (who, action, r.text)
        out = r.json()
    return out


DISPATCH = [("dispatcher", "acknowledge", {}), ("dispatcher", "dispatch", {})]
ACCEPTED = [*DISPATCH, ("department", "accept", {})]
FED_BACK = [*ACCEPTED, ("department", "feedback", {"note": "rocks moved", "photos": [PHOTO]})]


def _feed(hub) -> list[dict[str, Any]]:
    r = hub.client.get("/api/v1/feed?follow=false", headers=hub.auth("dispatcher"))
    return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]


def test_department_sees_and_works_its_own_queue_only(hub) -> None:
    ours = _order(hub)  # a landslide: natural-resources, the department token's
    theirs = _order(hub, camera="cam-002", kind="flooding", event="ev-flood")  # urban-management
    page = hub.client.get("/api/v1/work-orders", headers=hub.auth("department")).json()
    assert [i["id"] for i in page["items"]] == [ours] and page["total"] == 1
    r = hub.client.get("/api/v1/work-orders?department=urban-management", headers=hub.auth("department"))
    assert r.status_code == 403
    assert _get(hub, theirs, "department").status_code == 404
    assert hub.act(theirs, "department", "accept").status_code == 404
    assert _get(hub, ours, "department").json()["allowed_actions"] == []  # not dispatched yet
    _steps(hub, ours, DISPATCH)
    assert _get(hub, ours, "department").json()["allowed_actions"] == ["accept", "return"]
    assert _get(hub, theirs, "dispatcher").status_code == 200


def test_feedback_verify_fail_rework_and_close(hub, town) -> None:
    oid = _order(hub)
    _steps(hub, oid, ACCEPTED)
    two = [b64(jpeg(colour=(1, 2, 3))), b64(jpeg(colour=(200, 10, 10)))]
    wo = _steps(hub, oid, [("department", "feedback", {"note": "rocks moved", "photos": two})])
    assert wo["state"] == "fed_back" and wo["fed_back_at"] and wo["deadlines"]["verify_by"]
    assert len(wo["history"][-1]["attachments"]) == 2 and wo["history"][-1]["role"] == "department"
    assert wo["allowed_actions"] == []  # the department waits for the verification
    assert "verify" in _get(hub, oid, "grid_worker").json()["allowed_actions"]
    before = wo["deadlines"]
    wo = _steps(
        hub,
        oid,
        [("grid_worker", "verify", {"passed": False, "note": "mud still on the road", "photos": [PHOTO]})],
    )
    assert wo["state"] == "rework" and wo["rework_count"] == 1
    assert wo["deadlines"]["feedback_by"] > before["feedback_by"]  # a fresh handling deadline
    assert wo["deadlines"]["accept_by"] > before["accept_by"]
    assert wo["history"][-1]["details"]["passed"] is False and len(wo["history"][-1]["attachments"]) == 1
    wo = _steps(
        hub,
        oid,
        [
            ("department", "accept", {}),
            ("department", "arrive", {}),
            ("department", "feedback", {"note": "mud washed away", "photos": [PHOTO]}),
            ("grid_worker", "verify", {"passed": True, "note": "clear"}),
        ],
    )
    assert wo["state"] == "verified" and wo["verified_at"]
    assert hub.act(oid, "department", "close").status_code == 403
    assert hub.act(oid, "grid_worker", "close").status_code == 403
    wo = _steps(hub, oid, [("dispatcher", "close", {"note": "done"})])
    assert wo["state"] == "closed"
    actions = [h["action"] for h in wo["history"]]
    assert actions == [
        "create",
        "acknowledge",
        "dispatch",
        "accept",
        "feedback",
        "verify",
        "accept",
        "arrive",
        "feedback",
        "verify",
        "close",
    ]
    assert all(h["actor"] and h["role"] and h["at"] for h in wo["history"])
    updates = [e["data"] for e in _feed(hub) if e["type"] == "work_order.updated"]
    assert [u["action"] for u in updates].count("feedback") == 2
    assert all("state" in u for u in updates)


# For each new action: a state it applies in, a good body, a role that may not, a body missing
# what it needs (schema or meaning), and a state it does not apply in.
NEW_ACTIONS = {
    "feedback": (
        ACCEPTED,
        {"note": "done", "photos": [PHOTO]},
        "dispatcher",
        [
            {"note": "done"},
            {"note": "done", "photos": []},
            {"note": " ", "photos": [PHOTO]},
            {"photos": [PHOTO]},
        ],
    ),
    "request_extension": (
        ACCEPTED,
        {"reason": "rain", "until": "2026-11-27T08:00:00+00:00"},
        "grid_worker",
        [
            {"reason": "rain"},
            {"until": "2026-11-27T08:00:00+00:00"},
            {"reason": " ", "until": "2026-11-27T08:00:00+00:00"},
            {"reason": "rain", "until": "2026-11-27T08:00:00"},  # no time zone
        ],
    ),
    "approve_extension": (
        [*ACCEPTED, ("department", "request_extension", {"reason": "rain", "until": "2026-11-27T08:00:00Z"})],
        {},
        "department",
        [{"note": 5}],
    ),
    "decline_extension": (
        [*ACCEPTED, ("department", "request_extension", {"reason": "rain", "until": "2026-11-27T08:00:00Z"})],
        {"note": "no"},
        "department",
        [{"note": None}],
    ),
    "return": (DISPATCH, {"reason": "not ours: a road matter"}, "dispatcher", [{}, {"reason": "  "}]),
    "verify": (
        FED_BACK,
        {"passed": True},
        "department",
        [{}, {"passed": False, "note": "bad"}, {"passed": False, "photos": [PHOTO]}],
    ),
}


@pytest.mark.parametrize("action", sorted(NEW_ACTIONS))
def test_new_action_answers_403_409_422(hub, action: str) -> None:
    setup, good, wrong_role, missing = NEW_ACTIONS[action]
    fresh = _order(hub, event=f"ev-fresh-{action}")
    r = hub.act(fresh, "admin", action, **good)
    assert r.status_code == 409, r.text
    assert "cannot" in r.json()["detail"]
    oid = _order(hub, camera="cam-003", event=f"ev-{action}")
    _steps(hub, oid, setup)
    before = _get(hub, oid).json()
    r = hub.act(oid, wrong_role, action, **good)
    assert r.status_code == 403, r.text
    assert hub.act(oid, "maintainer", action, **good).status_code == 403
    for body in missing:
        r = hub.act(oid, "admin", action, **body)
        assert r.status_code == 422, (body, r.text)
    if action == "request_extension":
        # a date not later than the current handling deadline conflicts with the order as it stands
        r = hub.act(oid, "admin", action, reason="rain", until="2026-11-26T08:30:00+00:00")
        assert r.status_code == 409 and "later than the current handling deadline" in r.text, r.text
    after = _get(hub, oid).json()
    assert after["history"] == before["history"] and after["state"] == before["state"]
    right = "dispatcher" if action.endswith("_extension") and action != "request_extension" else "department"
    if action == "verify":
        right = "grid_worker"
    r = hub.act(oid, right, action, **good)
    assert r.status_code == 200, r.text
    assert r.json()["history"][-1]["action"] == action


def test_extensions_move_the_deadline_only_on_approval(hub) -> None:
    oid = _order(hub)
    wo = _steps(hub, oid, ACCEPTED)
    due = datetime.fromisoformat(wo["deadlines"]["feedback_by"])
    ask = (due + timedelta(hours=2)).isoformat()
    wo = _steps(hub, oid, [("department", "request_extension", {"reason": "more rain due", "until": ask})])
    assert wo["extension_request"] == {"until": ask, "reason": "more rain due"} and wo["state"] == "accepted"
    assert "approve_extension" in _get(hub, oid, "dispatcher").json()["allowed_actions"]
    assert "request_extension" not in _get(hub, oid, "department").json()["allowed_actions"]
    r = hub.act(oid, "department", "request_extension", reason="again", until=ask)
    assert r.status_code == 409 and "pending" in r.json()["detail"]
    wo = _steps(hub, oid, [("dispatcher", "decline_extension", {"note": "the road is needed"})])
    assert wo["deadlines"]["feedback_by"] == due.isoformat() and wo["extension_request"] is None
    assert wo["history"][-1]["details"]["approved"] is False
    assert hub.act(oid, "dispatcher", "approve_extension").status_code == 409  # none pending
    _steps(hub, oid, [("department", "request_extension", {"reason": "more rain due", "until": ask})])
    wo = _steps(hub, oid, [("dispatcher", "approve_extension", {})])
    assert wo["deadlines"]["feedback_by"] == ask and wo["extension_request"] is None
    assert wo["history"][-1]["details"]["approved"] is True
    assert wo["history"][-1]["details"]["handling_due"] == ask
    assert [h["action"] for h in wo["history"]][-4:] == [
        "request_extension",
        "decline_extension",
        "request_extension",
        "approve_extension",
    ]


def test_return_then_reassign(hub) -> None:
    oid = _order(hub)
    _steps(hub, oid, DISPATCH)
    wo = _steps(hub, oid, [("department", "return", {"reason": "a flooded road, not a landslide"})])
    assert wo["state"] == "returned" and wo["history"][-1]["details"]["reason"].startswith("a flooded")
    assert hub.act(oid, "department", "accept").status_code == 409
    assert "reassign" in _get(hub, oid, "dispatcher").json()["allowed_actions"]
    wo = _steps(hub, oid, [("dispatcher", "reassign", {"department": "urban-management"})])
    assert wo["state"] == "dispatched" and wo["department"]["id"] == "urban-management"
    assert _get(hub, oid, "department").status_code == 404  # no longer natural-resources'


def test_named_grid_worker_verifies_only_own_grid(hub, town) -> None:
    oid = _order(hub)
    _steps(hub, oid, FED_BACK)
    own = town.grid(town.camera("cam-001").grid).worker.id
    other = next(g.worker.id for g in town.grids if g.worker.id != own)
    mine = store_token(hub.hub.db, "grid_worker", None, own, hub.clock.now)
    theirs = store_token(hub.hub.db, "grid_worker", None, other, hub.clock.now)
    url = f"/api/v1/work-orders/{oid}/actions"
    r = hub.client.post(
        url, json={"action": "verify", "passed": True}, headers={"Authorization": f"Bearer {theirs}"}
    )
    assert r.status_code == 403 and own in r.json()["detail"]
    r = hub.client.post(
        url, json={"action": "verify", "passed": True}, headers={"Authorization": f"Bearer {mine}"}
    )
    assert r.status_code == 200 and r.json()["history"][-1]["actor"] == own


def test_auto_close_on_verify(town, db_url, tmp_path, clock) -> None:
    auto = town.model_copy(update={"hub": town.hub.model_copy(update={"auto_close_on_verify": True})})
    for hub in make_hub(auto, db_url, tmp_path, clock):
        oid = _order(hub)
        wo = _steps(hub, oid, [*FED_BACK, ("grid_worker", "verify", {"passed": True})])
        assert wo["state"] == "closed"
        assert [(h["action"], h["role"]) for h in wo["history"][-2:]] == [
            ("verify", "grid_worker"),
            ("close", "system"),
        ]


@pytest.mark.parametrize("mode", ["evidence", "close"])
def test_camera_clear_after_feedback(town, db_url, tmp_path, clock, mode: str) -> None:
    cfg = town.model_copy(update={"hub": town.hub.model_copy(update={"camera_verification": mode})})
    for hub in make_hub(cfg, db_url, tmp_path, clock):
        oid = _order(hub)
        _steps(hub, oid, FED_BACK)
        after = jpeg(colour=(30, 160, 30))
        clear = alert(phase="clear", seq=2, at=hub.clock.now, snapshot=after, score=0.1)
        assert hub.post_alert(clear).status_code == 201
        wo = _get(hub, oid).json()
        [cam] = [h for h in wo["history"] if h["action"] == "camera_clear"]
        assert cam["role"] == "camera" and cam["actor"] == "cam-001"
        assert hub.client.get(cam["attachments"][0], headers=hub.auth("admin")).content == after
        if mode == "evidence":
            assert wo["state"] == "fed_back"  # the grid worker still checks
        else:
            assert wo["state"] == "closed"
            assert [h["action"] for h in wo["history"]][-3:] == ["camera_clear", "verify", "close"]


def test_camera_clear_before_feedback_is_not_evidence(hub) -> None:
    oid = _order(hub)
    _steps(hub, oid, ACCEPTED)
    assert hub.post_alert(alert(phase="clear", seq=2, snapshot=jpeg())).status_code == 201
    wo = _get(hub, oid).json()
    assert wo["detection_cleared_at"] and "camera_clear" not in [h["action"] for h in wo["history"]]


def test_department_token_cli(tmp_path, capsys) -> None:
    from central.db import Database
    from central.tokens import create_token_cli
    from gridwatch.config import load_town
    from tests.central.conftest import SAMPLE

    db = f"sqlite:///{tmp_path / 'tok.db'}"
    rc = create_token_cli("department", None, None, db, SAMPLE, department="nowhere")
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "unknown department 'nowhere'" in err
    assert create_token_cli("department", None, None, db, SAMPLE) == 2
    assert create_token_cli("dispatcher", None, None, db, SAMPLE, department="environment") == 2
    capsys.readouterr()
    assert create_token_cli("department", None, "desk-a", db, SAMPLE, department="natural-resources") == 0
    token = capsys.readouterr().out.strip()
    database = Database(db)
    try:
        who = authenticate(database, load_town(SAMPLE), f"Bearer {token}")
    finally:
        database.dispose()
    assert who is not None and (who.role, who.department_id, who.name) == (
        "department",
        "natural-resources",
        "desk-a",
    )


def test_one_table_of_roles() -> None:
    """The CLI (which an edge box runs without the hub's modules) offers exactly the hub's user roles."""
    from central.api import deps
    from central.roles import USER_ROLES
    from gridwatch.cli import ROLES

    assert ROLES == USER_ROLES
    assert deps.USERS == USER_ROLES and set(deps.DESK) <= set(USER_ROLES)


def test_stage_defaults() -> None:
    from gridwatch.config.schema import Deadline

    rule = Deadline(priority="P1", acknowledge_min=5, arrive_min=30, close_min=480)
    assert [rule.minutes(s) for s in ("acknowledge", "accept", "arrive", "feedback", "verify", "close")] == [
        5,
        5,
        30,
        360,
        30,
        480,
    ]
    set_ = Deadline(
        priority="P1",
        acknowledge_min=5,
        arrive_min=30,
        close_min=480,
        accept_min=7,
        feedback_min=100,
        verify_min=20,
    )
    assert (set_.minutes("accept"), set_.minutes("feedback"), set_.minutes("verify")) == (7, 100, 20)
