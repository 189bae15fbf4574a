"""The persisted event log behind the dispatch centre's live feed.

Events are rows with increasing ids, written in the same transaction as the change they announce, so
an event exists exactly when its change does. A client resumes with the last id it saw and gets every
later event once; :class:`central.db.Database` makes ids commit in order.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from central.db import NOTIFIED, Database
from central.ids import Ids
from central.tables import FeedEvent, table_of

#: PostgreSQL NOTIFY channel announcing new feed events (see central.notify).
NOTIFY_CHANNEL = "gridwatch_feed"
EVENT_TYPES = frozenset(
    {
        "incident.created",
        "incident.updated",
        "incident.cleared",
        "work_order.created",
        "work_order.updated",
        "work_order.escalated",
        "work_order.supervised",
        "camera.status",
    }
)


#: ``Session.info`` key: this transaction appended to the feed (so its commit pokes the feed tail).
PUBLISHED = "gridwatch_feed_published"
_NOTIFY = text("SELECT pg_notify(:c, '')")


def publish(
    session: Session, type_: str, data: dict[str, Any], now: datetime, ids: Ids | None = None
) -> None:
    """Append one event inside the caller's write transaction (on PostgreSQL also NOTIFY, which is
    delivered when the transaction commits; one per transaction wakes every listener, however many
    events it appends). With ``ids`` the event is a plain row queued there, and the caller's
    ``ids.write()`` before commit inserts all of them at once; without, it is an ORM object flushed
    like any other."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown feed event {type_!r}")
    if ids is not None:
        ids.append(FeedEvent, {"at": now, "type": type_, "data": data})
    else:
        session.add(FeedEvent(at=now, type=type_, data=data))
    _announce(session)


def publish_many(session: Session, type_: str, datas: list[dict[str, Any]], now: datetime) -> None:
    """Append several events of one type with one executemany INSERT (ids in list order)."""
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown feed event {type_!r}")
    if not datas:
        return
    session.execute(insert(table_of(FeedEvent)), [{"at": now, "type": type_, "data": d} for d in datas])
    _announce(session)


def _announce(session: Session) -> None:
    """Mark the transaction as one that appended to the feed (its commit pokes this process's feed
    tail) and, on PostgreSQL, send its one NOTIFY (delivered at commit, to every hub process)."""
    session.info[PUBLISHED] = True
    if not session.info.get(NOTIFIED) and session.get_bind().dialect.name == "postgresql":
        with session.no_autoflush:  # the NOTIFY needs nothing written first (it is sent at commit)
            session.execute(_NOTIFY, {"c": NOTIFY_CHANNEL})
        session.info[NOTIFIED] = True


def events_after(db: Database, last_id: int, limit: int = 500) -> list[FeedEvent]:
    with db.read() as s:
        return list(
            s.execute(
                select(FeedEvent).where(FeedEvent.id > last_id).order_by(FeedEvent.id).limit(limit)
            ).scalars()
        )


def newest_event_id(db: Database) -> int:
    """The id of the last event in the log (0 if none)."""
    with db.read() as s:
        return int(s.execute(select(func.max(FeedEvent.id))).scalar_one() or 0)


def sse_frame(event: FeedEvent) -> str:
    """One Server-Sent Events message: ``id``, ``event`` and one ``data`` line of JSON."""
    payload = {"id": event.id, "type": event.type, "at": event.at.isoformat(), "data": event.data}
    return f"id: {event.id}\nevent: {event.type}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"
