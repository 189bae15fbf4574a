"""``Idempotency-Key`` on work-order actions: a replayed action is answered with the first answer and
applied once; keys are per caller; a key reused for another request, or malformed, is refused."""

from __future__ import annotations

from sqlalchemy import func, select

from central.idempotency import KEEP
from central.tables import HistoryRow, IdempotentReply
from tests.central.conftest import alert, jpeg


def _order(hub) -> int:
    r = hub.post_alert(alert(snapshot=jpeg()))
    assert r.status_code == 201, r.text
    return r.json()["work_order_id"]


def _act(hub, oid: int, who: str, key: str | None, **body):
    headers = hub.auth(who) | ({"Idempotency-Key": key} if key else {})
    return hub.client.post(f"/api/v1/work-orders/{oid}/actions", json=body, headers=headers)


def _history(hub, oid: int) -> list[str]:
    with hub.hub.db.read() as s:
        rows = s.execute(select(HistoryRow.action).where(HistoryRow.work_order_id == oid)).scalars()
        return list(rows)


def test_a_replay_gets_the_first_answer_and_applies_nothing(hub) -> None:
    oid = _order(hub)
    first = _act(hub, oid, "dispatcher", "key-0001-abcdef", action="acknowledge")
    assert first.status_code == 200 and "idempotent-replay" not in first.headers
    hub.clock.advance(minutes=5)
    again = _act(hub, oid, "dispatcher", "key-0001-abcdef", action="acknowledge")
    assert again.status_code == 200
    assert again.headers["idempotent-replay"] == "true"
    assert again.json() == first.json()
    assert _history(hub, oid).count("acknowledge") == 1
    # without the key the same action is judged afresh: the order has moved on
    assert _act(hub, oid, "dispatcher", None, action="acknowledge").status_code == 409


def test_keys_belong_to_their_caller(hub) -> None:
    oid = _order(hub)
    assert _act(hub, oid, "dispatcher", "shared-key-123", action="acknowledge").status_code == 200
    # the admin's request with the same key is its own: not answered from the dispatcher's reply
    other = _act(hub, oid, "admin", "shared-key-123", action="acknowledge")
    assert other.status_code == 409 and "idempotent-replay" not in other.headers


def test_a_key_reused_for_another_request_is_refused(hub) -> None:
    a = _order(hub)
    hub.clock.advance(minutes=1)
    r = hub.post_alert(alert(camera="cam-015", kind="flooding", event="ev-0002", snapshot=jpeg()))
    b = r.json()["work_order_id"]
    assert a != b
    assert _act(hub, a, "dispatcher", "reused-key-1", action="acknowledge").status_code == 200
    refused = _act(hub, b, "dispatcher", "reused-key-1", action="acknowledge")
    assert refused.status_code == 422 and "another request" in refused.json()["detail"]
    assert _history(hub, b) == ["create"]


def test_failed_answers_are_not_kept_and_bad_keys_are_refused(hub) -> None:
    oid = _order(hub)
    # 409 (not yet acknowledged) is not kept: after acknowledging, the same key dispatches
    assert _act(hub, oid, "dispatcher", "try-dispatch-1", action="dispatch").status_code == 409
    assert _act(hub, oid, "dispatcher", None, action="acknowledge").status_code == 200
    assert _act(hub, oid, "dispatcher", "try-dispatch-1", action="dispatch").status_code == 200
    bad = _act(hub, oid, "dispatcher", "short", action="close")
    assert bad.status_code == 422 and "Idempotency-Key" in bad.json()["detail"]
    # no credential: the route's own 401, nothing kept
    r = hub.client.post(f"/api/v1/work-orders/{oid}/actions", json={"action": "close"},
                        headers={"Idempotency-Key": "no-caller-key"})
    assert r.status_code == 401


def test_old_replies_are_pruned(hub) -> None:
    oid = _order(hub)
    assert _act(hub, oid, "dispatcher", "old-key-00001", action="acknowledge").status_code == 200
    hub.clock.advance(seconds=KEEP.total_seconds() + 60)
    assert _act(hub, oid, "dispatcher", "new-key-00001", action="dispatch").status_code == 200
    with hub.hub.db.read() as s:
        keys = list(s.execute(select(IdempotentReply.key)).scalars())
        assert keys == ["new-key-00001"]
        assert s.execute(select(func.count()).select_from(IdempotentReply)).scalar_one() == 1
