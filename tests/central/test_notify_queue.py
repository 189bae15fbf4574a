"""The queue in the database, driven with explicit times: the lease fences writers, the cursor moves
with the messages, a burst groups, attempts back off and give up, bad events are passed over."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from central.db import Database
from central.feed import publish
from central.notifications import queue
from central.notifications.rules import Delivery, Event, Notice, Recipient
from central.tables import NotificationMessage, NotifierState
from gridwatch.config.notifications import Retry
from tests.central.conftest import T0

RETRY = Retry(first_s=1, max_s=4, max_attempts=4)
WORKER = Recipient("worker", "w-01", "张勇", "555-0101")


@pytest.fixture()
def db(db_url: str) -> Iterator[Database]:
    d = Database(db_url)
    yield d
    d.dispose()


def _router(event: Event, _lookup) -> list[Delivery]:  # type: ignore[no-untyped-def]
    if event.data.get("boom"):
        raise KeyError("boom")
    n = Notice(
        "new_order",
        event.id,
        event.type,
        event.at.isoformat(),
        f"#{event.data['id']}",
        (),
        "u",
        order_id=event.data["id"],
    )
    return [Delivery("ops", WORKER, n)]


def _publish(db: Database, at, **data) -> None:  # type: ignore[no-untyped-def]
    with db.write() as s:
        publish(s, "work_order.created", {"id": 1} | data, at)


def _enqueue(db: Database, holder: str, now, wait: float = 10.0) -> int | None:  # type: ignore[no-untyped-def]
    return queue.enqueue(
        db, holder, now, _router, town_name="涌山镇", group_wait_s={"ops": wait}, max_age_s=3600
    )


def _messages(db: Database) -> list[NotificationMessage]:
    with db.read() as s:
        return list(s.query(NotificationMessage).order_by(NotificationMessage.id))


def test_lease_fences_a_second_notifier(db: Database) -> None:
    a = queue.Lease(db, "a", 15)
    b = queue.Lease(db, "b", 15)
    assert a.hold(T0) and not b.hold(T0 + timedelta(seconds=1))
    _publish(db, T0, id=7)
    assert _enqueue(db, "b", T0 + timedelta(seconds=1)) is None  # not the holder: writes nothing
    assert _messages(db) == []
    assert _enqueue(db, "a", T0 + timedelta(seconds=1)) == 1
    [msg] = _messages(db)
    assert queue.claim(db, "b", msg.id, T0 + timedelta(seconds=20), RETRY, 2) is None
    # a lapses (no renewal for longer than the lease): b takes over, and a's writes are refused
    assert b.hold(T0 + timedelta(seconds=16))
    assert queue.claim(db, "a", msg.id, T0 + timedelta(seconds=20), RETRY, 2) is None
    assert queue.claim(db, "b", msg.id, T0 + timedelta(seconds=20), RETRY, 2) is not None
    b.release(T0 + timedelta(seconds=21))
    with db.read() as s:
        assert s.get(NotifierState, "notifier").holder is None
    assert a.hold(T0 + timedelta(seconds=22))  # at once after a clean release


def test_burst_groups_until_the_first_attempt(db: Database) -> None:
    assert queue.Lease(db, "a", 600).hold(T0)
    for i in range(3):
        _publish(db, T0, id=i + 1)
    assert _enqueue(db, "a", T0) == 3
    _publish(db, T0, id=4)
    assert _enqueue(db, "a", T0 + timedelta(seconds=5)) == 1  # still within group_wait: joins
    [msg] = _messages(db)
    assert [n["order_id"] for n in msg.payload["notices"]] == [1, 2, 3, 4]
    assert queue.due(db, T0 + timedelta(seconds=9), ["ops"]) == []
    assert queue.due(db, T0 + timedelta(seconds=10), ["ops"]) == [(msg.id, "ops")]
    assert queue.due(db, T0 + timedelta(seconds=10), ["other"]) == []  # a channel not running
    assert queue.next_due(db, ["ops"]) == T0 + timedelta(seconds=10)
    claimed = queue.claim(db, "a", msg.id, T0 + timedelta(seconds=10), RETRY, 2)
    assert claimed is not None and claimed.attempts == 1
    assert claimed.delivery_id == queue.delivery_id("ops", "worker:w-01", _first_event(db))
    _publish(db, T0, id=5)  # after the first attempt: a new message, even within the window
    _enqueue(db, "a", T0 + timedelta(seconds=8))
    assert [len(m.payload["notices"]) for m in _messages(db)] == [4, 1]


def _first_event(db: Database) -> int:
    from central.tables import FeedEvent

    with db.read() as s:
        return min(e.id for e in s.query(FeedEvent))


def test_backoff_doubles_and_gives_up(db: Database) -> None:
    assert queue.Lease(db, "a", 600).hold(T0)
    _publish(db, T0, id=1)
    _enqueue(db, "a", T0, wait=0)
    [msg] = _messages(db)
    now, waits = T0, []
    for attempt in range(1, 5):
        claimed = queue.claim(db, "a", msg.id, now, RETRY, 2)
        assert claimed is not None and claimed.attempts == attempt
        assert queue.claim(db, "a", msg.id, now, RETRY, 2) is None  # claimed: not due again meanwhile
        state = queue.record(db, claimed, now, "ConnectError: refused", RETRY)
        [msg] = _messages(db)
        waits.append((msg.next_try_at - now).total_seconds())
        now = msg.next_try_at
    assert waits == [1, 2, 4, 4] and state == "failed"
    assert msg.last_error == "ConnectError: refused" and msg.attempts == 4
    assert queue.due(db, now + timedelta(hours=1), ["ops"]) == []
    back, retried = queue.retry_failed(db, msg.id, now)
    assert retried and back is not None and back.state == "pending"
    assert queue.retry_failed(db, msg.id, now)[1] is False  # pending now: nothing to put back
    claimed = queue.claim(db, "a", msg.id, now, RETRY, 2)
    assert claimed is not None and queue.record(db, claimed, now, None, RETRY) == "sent"
    assert queue.counts(db) == [("ops", "sent", 1)]


def test_bad_and_old_events_are_passed_over(db: Database) -> None:
    assert queue.Lease(db, "a", 600).hold(T0)
    _publish(db, T0 - timedelta(hours=2), id=1)  # older than max_age_s
    _publish(db, T0, id=2, boom=True)  # the router fails on it
    _publish(db, T0, id=3)
    assert _enqueue(db, "a", T0) == 3
    [msg] = _messages(db)
    assert [n["order_id"] for n in msg.payload["notices"]] == [3]
    assert _enqueue(db, "a", T0) == 0  # the cursor moved past all three
