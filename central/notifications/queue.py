"""The durable outbound queue in the database, the notifier's cursor in the feed log, and its lease.

Every write here is one write transaction (:meth:`central.db.Database.write`), and write transactions
never overlap (SQLite's write lock; on PostgreSQL the feed's advisory lock), so a read-then-update
inside one is safe across threads and hub processes. Routing events into messages moves the cursor
in the same transaction, so an event is routed exactly once; a message is claimed (its attempt
counted, its next try moved on) before it is sent and marked sent after, so a hub that dies in
between sends it again after the backoff (at least once, with the same ``delivery_id``), and one that
dies after ``sent`` was stored never sends it again. Enqueuing and claiming check the lease in their
own transaction: a process that lost the sending role (stalled past its lease) writes nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.db import Database
from central.notifications.rules import Delivery, Event, OrderFacts
from central.tables import FeedEvent, NotificationMessage, NotifierState, WorkOrder
from gridwatch.config.notifications import Retry

log = logging.getLogger(__name__)

NAME = "notifier"
STATES = ("pending", "sent", "failed")
#: Most notices in one message; a longer burst continues in the next message.
MAX_GROUP = 50
#: Events routed per transaction.
BATCH = 200

Router = Callable[[Event, Callable[[int], OrderFacts | None]], list[Delivery]]


def delivery_id(channel: str, recipient: str, first_event_id: int) -> str:
    """Stable for a message: the same channel, recipient and first event always give the same id."""
    digest = hashlib.sha256(f"{channel}\n{recipient}\n{first_event_id}".encode()).hexdigest()
    return f"gwn-{digest[:32]}"


def backoff(retry: Retry, attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed attempt: first_s, doubled each time, at most max_s."""
    return timedelta(seconds=min(retry.first_s * 2 ** max(attempts - 1, 0), retry.max_s))


# --- the lease ------------------------------------------------------------------------------------


class Lease:
    """The sending role, held by one notifier at a time across every hub process of a database."""

    def __init__(self, db: Database, holder: str, lease_s: float) -> None:
        self.db, self.holder, self.lease = db, holder, timedelta(seconds=lease_s)
        self._until: datetime | None = None  # ours until then, as last written

    def hold(self, now: datetime) -> bool:
        """Whether this notifier holds the role now, taking or renewing it when due."""
        if self._until is not None and now < self._until - self.lease / 2:
            return True  # renewed recently: no write
        if self._until is None:  # a cheap look before a write transaction
            with self.db.read() as s:
                row = s.get(NotifierState, NAME)
                if row is not None and row.holder != self.holder and _live(row, now):
                    return False
        with self.db.write() as s:
            row = s.get(NotifierState, NAME)
            if row is None:  # the first notifier ever: start after what is in the log already
                newest = s.execute(select(func.max(FeedEvent.id))).scalar_one() or 0
                row = NotifierState(name=NAME, cursor=int(newest), updated_at=now)
                s.add(row)
            elif row.holder != self.holder and _live(row, now):
                self._until = None
                return False
            if row.holder != self.holder:
                log.info(
                    "notifier: %s takes the sending role (cursor at feed event %d)", self.holder, row.cursor
                )
            row.holder, row.lease_until, row.updated_at = self.holder, now + self.lease, now
        self._until = now + self.lease
        return True

    def release(self, now: datetime) -> None:
        """Give the role up (a clean stop), so another process takes it at once."""
        self._until = None
        with self.db.write() as s:
            row = s.get(NotifierState, NAME)
            if row is not None and row.holder == self.holder:
                row.holder, row.lease_until, row.updated_at = None, None, now


def _live(row: NotifierState, now: datetime) -> bool:
    return row.holder is not None and row.lease_until is not None and row.lease_until > now


def _fenced(s: Session, holder: str, now: datetime) -> NotifierState | None:
    row = s.get(NotifierState, NAME)
    return row if row is not None and row.holder == holder and _live(row, now) else None


# --- routing events into messages -----------------------------------------------------------------


def enqueue(
    db: Database,
    holder: str,
    now: datetime,
    router: Router,
    *,
    town_name: str,
    group_wait_s: dict[str, float],
    max_age_s: float,
) -> int | None:
    """Route the next batch of feed events after the cursor into messages; returns how many events
    were read (None: this notifier does not hold the lease)."""
    with db.read() as s:  # nothing new (most passes): no write transaction at all
        row = s.get(NotifierState, NAME)
        newer = (
            row is None
            or s.execute(select(FeedEvent.id).where(FeedEvent.id > row.cursor).limit(1)).first() is not None
        )
    if not newer:
        return 0
    with db.write() as s:
        state = _fenced(s, holder, now)
        if state is None:
            return None
        events = list(
            s.execute(
                select(FeedEvent).where(FeedEvent.id > state.cursor).order_by(FeedEvent.id).limit(BATCH)
            ).scalars()
        )
        if not events:
            return 0
        lookup = _order_lookup(s)
        oldest = now - timedelta(seconds=max_age_s)
        open_: dict[tuple[str, str], NotificationMessage] = {}
        for ev in events:
            if ev.at < oldest:
                continue
            try:
                deliveries = router(Event(ev.id, ev.type, ev.at, ev.data), lookup)
            except Exception:  # one malformed event must not stop every later notification
                log.exception("notifier: feed event %d (%s) could not be routed; passed over", ev.id, ev.type)
                continue
            for d in deliveries:
                key = (d.channel, d.recipient.key)
                msg = open_.get(key) or _open_message(s, d.channel, d.recipient.key, now)
                if msg is not None and len(msg.payload["notices"]) < MAX_GROUP:
                    msg.payload = {**msg.payload, "notices": [*msg.payload["notices"], d.notice.as_json()]}
                else:
                    wait = timedelta(seconds=group_wait_s.get(d.channel, 0.0))
                    msg = NotificationMessage(
                        delivery_id=delivery_id(d.channel, d.recipient.key, ev.id),
                        channel=d.channel,
                        recipient=d.recipient.key,
                        payload={
                            "town": town_name,
                            "recipient": d.recipient.as_json(),
                            "notices": [d.notice.as_json()],
                        },
                        state="pending",
                        attempts=0,
                        created_at=now,
                        group_until=now + wait,
                        next_try_at=now + wait,
                    )
                    s.add(msg)
                open_[key] = msg
        state.cursor, state.updated_at = events[-1].id, now
        return len(events)


def _open_message(s: Session, channel: str, recipient: str, now: datetime) -> NotificationMessage | None:
    """The message to this recipient on this channel still gathering its group, if any."""
    return s.execute(
        select(NotificationMessage)
        .where(
            NotificationMessage.channel == channel,
            NotificationMessage.recipient == recipient,
            NotificationMessage.state == "pending",
            NotificationMessage.attempts == 0,
            NotificationMessage.group_until > now,
        )
        .order_by(NotificationMessage.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _order_lookup(s: Session) -> Callable[[int], OrderFacts | None]:
    def lookup(order_id: int) -> OrderFacts | None:
        wo = s.get(WorkOrder, order_id)
        if wo is None:
            return None
        return OrderFacts(
            wo.id, wo.department_id, wo.grid_id, wo.assignee_id, wo.kind, wo.priority, wo.address or ""
        )

    return lookup


# --- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message taken for one attempt (its payload as fixed by the first attempt)."""

    id: int
    delivery_id: str
    channel: str
    payload: dict[str, Any]
    attempts: int


def due(db: Database, now: datetime, channels: list[str], limit: int = 100) -> list[tuple[int, str]]:
    """(id, channel) of pending messages on these channels whose time has come, oldest first (a
    channel turned off keeps its messages pending, out of the way, until it is back)."""
    with db.read() as s:
        rows = s.execute(
            select(NotificationMessage.id, NotificationMessage.channel)
            .where(
                NotificationMessage.state == "pending",
                NotificationMessage.next_try_at <= now,
                NotificationMessage.channel.in_(channels),
            )
            .order_by(NotificationMessage.next_try_at, NotificationMessage.id)
            .limit(limit)
        ).all()
    return [(int(i), str(c)) for i, c in rows]


def next_due(db: Database, channels: list[str]) -> datetime | None:
    """When the next pending message on these channels falls due."""
    with db.read() as s:
        return s.execute(
            select(func.min(NotificationMessage.next_try_at)).where(
                NotificationMessage.state == "pending", NotificationMessage.channel.in_(channels)
            )
        ).scalar_one()


def claim(
    db: Database, holder: str, msg_id: int, now: datetime, retry: Retry, timeout_s: float
) -> Claimed | None:
    """Count an attempt and move the next try past this one's end, before sending; None when the
    message is no longer due or this notifier lost the lease."""
    with db.write() as s:
        if _fenced(s, holder, now) is None:
            return None
        msg = s.get(NotificationMessage, msg_id)
        if msg is None or msg.state != "pending" or msg.next_try_at > now:
            return None
        msg.attempts += 1
        msg.last_try_at = now
        msg.next_try_at = now + timedelta(seconds=timeout_s) + backoff(retry, msg.attempts)
        return Claimed(msg.id, msg.delivery_id, msg.channel, dict(msg.payload), msg.attempts)


def record(db: Database, claimed: Claimed, now: datetime, error: str | None, retry: Retry) -> str | None:
    """Store an attempt's outcome; returns the message's new state (None if it changed meanwhile)."""
    with db.write() as s:
        msg = s.get(NotificationMessage, claimed.id)
        if msg is None or msg.state != "pending" or msg.attempts != claimed.attempts:
            return None
        if error is None:
            msg.state, msg.sent_at, msg.last_error = "sent", now, None
        else:
            msg.last_error = error[:2000]
            msg.next_try_at = now + backoff(retry, msg.attempts)
            if msg.attempts >= retry.max_attempts:
                msg.state = "failed"
        return msg.state


# --- for admins and metrics -----------------------------------------------------------------------


def listing(
    db: Database, state: str | None, channel: str | None, limit: int, before_id: int | None
) -> list[NotificationMessage]:
    q = select(NotificationMessage).order_by(NotificationMessage.id.desc()).limit(limit)
    if state is not None:
        q = q.where(NotificationMessage.state == state)
    if channel is not None:
        q = q.where(NotificationMessage.channel == channel)
    if before_id is not None:
        q = q.where(NotificationMessage.id < before_id)
    with db.read() as s:
        return list(s.execute(q).scalars())


def retry_failed(db: Database, msg_id: int, now: datetime) -> tuple[NotificationMessage | None, bool]:
    """A failed message back in the queue with a fresh budget of attempts. Returns the message (None
    if there is none) and whether it was put back (only a failed one is)."""
    with db.write() as s:
        msg = s.get(NotificationMessage, msg_id)
        if msg is None or msg.state != "failed":
            return msg, False
        msg.state, msg.attempts, msg.next_try_at = "pending", 0, now
        return msg, True


def counts(db: Database) -> list[tuple[str, str, int]]:
    """(channel, state, messages) over the whole queue."""
    with db.read() as s:
        rows = s.execute(
            select(NotificationMessage.channel, NotificationMessage.state, func.count()).group_by(
                NotificationMessage.channel, NotificationMessage.state
            )
        ).all()
    return [(str(c), str(st), int(n)) for c, st, n in rows]
