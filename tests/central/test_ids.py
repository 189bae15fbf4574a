"""Plain rows queued in one write transaction (intake's feed events and work-order history): written
by ``Ids.write``, numbered by the database in the order queued, refused at commit if never written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from central.db import Database
from central.ids import Ids
from central.tables import FeedEvent

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def _events(db: Database) -> list[tuple[int, str, dict[str, object]]]:
    with db.read() as s:
        return [(e.id, e.type, e.data) for e in s.execute(select(FeedEvent).order_by(FeedEvent.id)).scalars()]


def test_queued_rows_go_in_with_their_ids_when_written(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.write() as s:  # one event stored the usual way first: new ids come after it
            s.add(FeedEvent(at=NOW, type="incident.created", data={"n": 0}))
        (first,) = _events(db)
        with db.write() as s:
            ids = Ids(s)
            for n in range(1, 6):
                ids.append(FeedEvent, {"at": NOW, "type": "incident.updated", "data": {"n": n}})
            assert s.execute(select(func.count()).select_from(FeedEvent)).scalar_one() == 1  # queued only
            ids.write()
            ids.write()  # nothing left: writes nothing twice
        events = _events(db)
        assert events[0] == first and [e[2] for e in events[1:]] == [{"n": n} for n in range(1, 6)]
        assert [e[0] for e in events] == sorted({e[0] for e in events})  # numbered in the order queued
        assert events[1][0] > first[0]
    finally:
        db.dispose()


def test_rows_queued_and_never_written_fail_the_commit(db_url: str) -> None:
    db = Database(db_url)
    try:
        with pytest.raises(RuntimeError, match=r"feed_events were never written"), db.write() as s:
            Ids(s).append(FeedEvent, {"at": NOW, "type": "incident.created", "data": {}})
        assert _events(db) == []  # rolled back whole
        with db.write() as s:  # the next transaction is not affected by the last one's check
            s.add(FeedEvent(at=NOW, type="incident.created", data={}))
        assert len(_events(db)) == 1
    finally:
        db.dispose()
