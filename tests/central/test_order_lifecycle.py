"""The work-order life cycle: the pure state machine exhaustively, and the API end to end."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from central.order_lifecycle import (
    ROLES,
    TRANSITIONS,
    Action,
    Forbidden,
    IllegalTransition,
    MissingInput,
    Request,
    State,
    decide,
)
from tests.central.conftest import alert, b64, jpeg

GOOD_INPUT = {
    "note": "cleared the road",
    "reason": "false alarm",
    "department": "urban-management",
    "has_evidence": True,
    "passed": True,
    "until": datetime(2030, 1, 1, tzinfo=UTC),
}


def _pending(action: Action) -> bool:
    """The extension decisions need a request pending; the request itself needs none."""
    return action in (Action.APPROVE_EXTENSION, Action.DECLINE_EXTENSION)


@pytest.mark.parametrize(("state", "action"), list(itertools.product(State, Action)))
def test_every_state_action_pair(state: State, action: Action) -> None:
    role = sorted(ROLES[action])[0]
    req = Request(action=action, role=role, pending_extension=_pending(action), **GOOD_INPUT)
    sources, target = TRANSITIONS[action]
    if state in sources:
        tr = decide(state, req)
        assert (tr.from_state, tr.to_state) == (state, target or state)
    else:
        with pytest.raises(IllegalTransition, match=f"cannot {action.value}"):
            decide(state, req)


def test_verify_failure_goes_to_rework_and_extensions_need_a_request() -> None:
    fail = Request(Action.VERIFY, "grid_worker", note="still blocked", photos=1, passed=False)
    assert decide(State.FED_BACK, fail).to_state is State.REWORK
    with pytest.raises(IllegalTransition, match="no extension request is pending"):
        decide(State.ACCEPTED, Request(Action.APPROVE_EXTENSION, "dispatcher"))
    with pytest.raises(IllegalTransition, match="already pending"):
        req = {"action": Action.REQUEST_EXTENSION, "role": "department", "pending_extension": True}
        decide(State.ACCEPTED, Request(**GOOD_INPUT | req))


@pytest.mark.parametrize("action", list(Action))
def test_roles_per_action(action: Action) -> None:
    state = next(iter(TRANSITIONS[action][0]))
    for role in ("dispatcher", "maintainer", "grid_worker", "department", "admin", "edge"):
        req = Request(action=action, role=role, pending_extension=_pending(action), **GOOD_INPUT)
        if role in ROLES[action]:
            decide(state, req)
        else:
            with pytest.raises(Forbidden):
                decide(state, req)
    assert "maintainer" not in ROLES[action] and "edge" not in ROLES[action]


def test_inputs_required() -> None:
    with pytest.raises(MissingInput, match="evidence"):
        decide(State.ON_SITE, Request(Action.RESOLVE, "grid_worker", note="done"))
    with pytest.raises(MissingInput, match="note"):
        decide(State.ON_SITE, Request(Action.RESOLVE, "grid_worker", has_evidence=True))
    with pytest.raises(MissingInput, match="reason"):
        decide(State.NEW, Request(Action.REJECT, "dispatcher"))
    with pytest.raises(MissingInput, match="department or an assignee"):
        decide(State.DISPATCHED, Request(Action.REASSIGN, "dispatcher"))
    with pytest.raises(MissingInput, match="photo"):
        decide(State.ON_SITE, Request(Action.FEEDBACK, "department", note="done"))
    with pytest.raises(MissingInput, match="note"):
        decide(State.ACCEPTED, Request(Action.FEEDBACK, "department", photos=1))
    with pytest.raises(MissingInput, match="at most 5"):
        decide(State.ACCEPTED, Request(Action.FEEDBACK, "department", note="x", photos=6))
    with pytest.raises(MissingInput, match="reason"):
        decide(State.ACCEPTED, Request(Action.RETURN, "department"))
    with pytest.raises(MissingInput, match="reason"):
        decide(State.ACCEPTED, Request(Action.REQUEST_EXTENSION, "department", until=GOOD_INPUT["until"]))
    with pytest.raises(MissingInput, match="until"):
        decide(State.ACCEPTED, Request(Action.REQUEST_EXTENSION, "department", reason="rain"))
    later, earlier = GOOD_INPUT["until"], datetime(2029, 1, 1, tzinfo=UTC)
    # not later than the order's current deadline: the order as it is now refuses it (409)
    with pytest.raises(IllegalTransition, match="later than the current handling deadline"):
        decide(State.ACCEPTED, Request(Action.REQUEST_EXTENSION, "department", reason="rain", until=earlier,
                                       handling_due=later))
    with pytest.raises(MissingInput, match="passed"):
        decide(State.FED_BACK, Request(Action.VERIFY, "grid_worker"))
    with pytest.raises(MissingInput, match="photo"):
        decide(State.FED_BACK, Request(Action.VERIFY, "grid_worker", passed=False, note="still blocked"))
    with pytest.raises(MissingInput, match="note"):
        decide(State.FED_BACK, Request(Action.VERIFY, "grid_worker", passed=False, photos=1))
    passed = Request(Action.VERIFY, "grid_worker", passed=True)
    assert decide(State.FED_BACK, passed).to_state is State.VERIFIED


def _order(hub) -> int:
    r = hub.post_alert(alert(snapshot=jpeg()))
    assert r.status_code == 201, r.text
    return r.json()["work_order_id"]


def test_full_lifecycle_with_history(hub) -> None:
    oid = _order(hub)
    steps = [
        ("dispatcher", "acknowledge", {}, "acknowledged"),
        ("dispatcher", "dispatch", {"note": "send the grid worker"}, "dispatched"),
        ("grid_worker", "accept", {}, "accepted"),
        ("grid_worker", "arrive", {"note": "on site"}, "on_site"),
        (
            "grid_worker",
            "resolve",
            {"note": "rocks removed", "evidence": b64(jpeg(colour=(9, 9, 9)))},
            "fed_back",
        ),
        ("grid_worker", "verify", {"passed": True, "note": "road clear"}, "verified"),
        ("dispatcher", "close", {"note": "checked the photo"}, "closed"),
    ]
    for who, action, extra, state in steps:
        hub.clock.advance(minutes=1)
        r = hub.act(oid, who, action, **extra)
        assert r.status_code == 200, (action, r.text)
        assert r.json()["state"] == state
    wo = hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth("admin")).json()
    hist = wo["history"]
    assert [h["action"] for h in hist] == [
        "create",
        "acknowledge",
        "dispatch",
        "accept",
        "arrive",
        "feedback",  # the deprecated resolve is recorded as what it is now
        "verify",
        "close",
    ]
    assert hist[5]["details"]["via"] == "resolve"
    assert [h["role"] for h in hist[1:]] == [
        "dispatcher",
        "dispatcher",
        "grid_worker",
        "grid_worker",
        "grid_worker",
        "grid_worker",
        "dispatcher",
    ]
    assert all(h["actor"] for h in hist)
    assert [h["to_state"] for h in hist][-1] == "closed"
    assert len(hist[5]["attachments"]) == 1
    photo = hub.client.get(hist[5]["attachments"][0], headers=hub.auth("dispatcher"))
    assert photo.status_code == 200 and photo.content == jpeg(colour=(9, 9, 9))
    assert wo["acknowledged_at"] and wo["arrived_at"] and wo["resolved_at"] and wo["closed_at"]
    assert wo["snapshot_url"] and not any(wo["overdue"].values())
    assert set(wo["overdue"]) == {"acknowledge", "accept", "arrive", "feedback", "verify", "close"}
    # the incident ended with the order
    inc = hub.client.get(f"/api/v1/incidents/{wo['incident_id']}", headers=hub.auth("admin")).json()
    assert inc["state"] == "closed"


def test_illegal_transitions_are_409_and_change_nothing(hub) -> None:
    oid = _order(hub)
    for action, extra in (
        ("dispatch", {"department": "urban-management"}),
        ("accept", {}),
        ("arrive", {}),
        ("close", {}),
        ("reassign", {"department": "urban-management"}),
    ):
        r = hub.act(oid, "admin", action, note="x", **extra)
        assert r.status_code == 409, (action, r.text)
        assert "cannot" in r.json()["detail"] and "acknowledge" in r.json()["detail"]
    r = hub.act(oid, "grid_worker", "resolve", note="x", evidence=b64(jpeg()))
    assert r.status_code == 409
    assert hub.act(oid, "dispatcher", "acknowledge").status_code == 200
    assert hub.act(oid, "dispatcher", "acknowledge").status_code == 409
    wo = hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth("admin")).json()
    assert wo["state"] == "acknowledged" and len(wo["history"]) == 2


def test_reject_reassign_and_bad_inputs(hub, town) -> None:
    oid = _order(hub)
    assert hub.act(oid, "dispatcher", "reject").status_code == 422  # no reason
    assert hub.act(oid, "grid_worker", "acknowledge").status_code == 403
    assert hub.act(oid, "maintainer", "acknowledge").status_code == 403
    assert hub.act(oid, "dispatcher", "acknowledge").status_code == 200
    r = hub.act(oid, "dispatcher", "reassign", department="law-enforcement", note="debris, not a slide")
    assert r.status_code == 200, r.text
    cam = town.camera("cam-001")
    squad = next(d.id for d in town.departments if d.kind == "squad" and cam.grid in d.grids)
    assert r.json()["department"]["id"] == squad and r.json()["state"] == "dispatched"
    assert hub.act(oid, "dispatcher", "reassign", department="nowhere").status_code == 422
    assert hub.act(oid, "dispatcher", "reassign", assignee="w-nobody").status_code == 422
    assert hub.act(oid, "dispatcher", "launch").status_code == 422
    assert hub.act(999999, "dispatcher", "acknowledge").status_code == 404
    assert hub.act(oid, "grid_worker", "accept").status_code == 200
    assert hub.act(oid, "grid_worker", "arrive").status_code == 200
    r = hub.act(oid, "grid_worker", "resolve", note="done", evidence=b64(b"\xff\xd8\xffjunk\xff\xd9"))
    assert r.status_code == 422 and "evidence" in r.json()["detail"]
    assert hub.act(oid, "grid_worker", "resolve", note="done").status_code == 422
    r = hub.act(oid, "dispatcher", "reject", reason="it was a parked lorry")
    assert r.status_code == 200 and r.json()["state"] == "rejected"
    assert "parked lorry" in r.json()["history"][-1]["note"]
    assert hub.act(oid, "dispatcher", "close").status_code == 409


def test_list_filters_and_pagination(hub, town) -> None:
    by_road = {c.road: c for c in reversed(town.cameras_of("edge-01"))}  # one camera per road: no grouping
    cams = sorted(by_road.values(), key=lambda c: c.id)[:5]
    assert "cam-001" in {c.id for c in cams}
    ids = [hub.post_alert(alert(camera=c.id, event=f"ev-{c.id}")).json()["work_order_id"] for c in cams]
    hub.post_alert(alert(camera="cam-001", kind="flooding", event="ev-f"))
    h = hub.auth("dispatcher")
    page = hub.client.get("/api/v1/work-orders?limit=2&offset=0", headers=h).json()
    assert page["total"] == 6 and len(page["items"]) == 2
    assert all(i["snapshot_url"] is None for i in page["items"])  # these alerts carried no snapshot
    rest = hub.client.get("/api/v1/work-orders?limit=10&offset=2", headers=h).json()
    assert len(rest["items"]) == 4
    assert {i["id"] for i in page["items"] + rest["items"]} >= set(ids)
    assert hub.client.get("/api/v1/work-orders?kind=flooding", headers=h).json()["total"] == 1
    assert hub.client.get("/api/v1/work-orders?department=natural-resources", headers=h).json()["total"] == 5
    grid = cams[0].grid
    by_grid = hub.client.get(f"/api/v1/work-orders?grid={grid}", headers=h).json()
    assert by_grid["total"] >= 1 and all(i["grid"]["id"] == grid for i in by_grid["items"])
    hub.act(ids[0], "dispatcher", "acknowledge")
    assert hub.client.get("/api/v1/work-orders?state=acknowledged", headers=h).json()["total"] == 1
    assert hub.client.get("/api/v1/work-orders?state=new,acknowledged", headers=h).json()["total"] == 6
    assert hub.client.get("/api/v1/work-orders?state=bogus", headers=h).status_code == 422
    assert hub.client.get("/api/v1/work-orders?limit=0", headers=h).status_code == 422
    assert hub.client.get("/api/v1/work-orders?overdue=true", headers=h).json()["total"] == 0
    hub.clock.advance(minutes=10)  # P1 acknowledge deadline is 5 min; five are still new
    over = hub.client.get("/api/v1/work-orders?overdue=true", headers=h).json()
    assert over["total"] == 5 and all(i["overdue"]["acknowledge"] for i in over["items"])
    assert hub.client.get("/api/v1/work-orders?overdue=false", headers=h).json()["total"] == 1


def test_list_items_carry_snapshot_urls(hub) -> None:
    oid = hub.post_alert(alert(snapshot=jpeg())).json()["work_order_id"]
    [item] = hub.client.get("/api/v1/work-orders", headers=hub.auth("dispatcher")).json()["items"]
    assert item["id"] == oid and item["snapshot_url"].startswith("/api/v1/media/")
    assert hub.client.get(item["snapshot_url"], headers=hub.auth("dispatcher")).content == jpeg()


def test_named_grid_worker_works_only_own_orders(hub, town) -> None:
    from central.auth import store_token

    oid = _order(hub)  # cam-001
    own = town.grid(town.camera("cam-001").grid).worker.id
    other = next(g.worker.id for g in town.grids if g.worker.id != own)
    mine = store_token(hub.hub.db, "grid_worker", None, own, hub.clock.now)
    theirs = store_token(hub.hub.db, "grid_worker", None, other, hub.clock.now)
    assert hub.act(oid, "dispatcher", "acknowledge").status_code == 200
    assert hub.act(oid, "dispatcher", "dispatch").status_code == 200
    url = f"/api/v1/work-orders/{oid}/actions"
    seen = hub.client.get(f"/api/v1/work-orders/{oid}", headers={"Authorization": f"Bearer {theirs}"}).json()
    assert seen["allowed_actions"] == []
    seen = hub.client.get(f"/api/v1/work-orders/{oid}", headers={"Authorization": f"Bearer {mine}"}).json()
    assert "accept" in seen["allowed_actions"]
    r = hub.client.post(url, json={"action": "accept"}, headers={"Authorization": f"Bearer {theirs}"})
    assert r.status_code == 403 and own in r.json()["detail"]
    r = hub.client.post(url, json={"action": "accept"}, headers={"Authorization": f"Bearer {mine}"})
    assert r.status_code == 200, r.text
    assert r.json()["history"][-1]["actor"] == own
