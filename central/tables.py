"""The hub's tables. Constraints carry the correctness rules that must hold across processes.

- ``alerts.id`` is the alert's own id: a resend hits the primary key, so intake is idempotent.
- ``open_keys.key`` (camera:kind) exists only while an incident is open for that camera and kind, so
  two processes cannot both open an incident for the same thing.
- ``work_orders.*_escalated_at`` are set by a conditional UPDATE, so a missed deadline is noticed once
  (a renewed deadline, after a rework or an extension, clears it).
- ``work_order_history`` and ``feed_events`` are only ever inserted into.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite has no BIGSERIAL; INTEGER PRIMARY KEY is its auto-increment row id.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, aware UTC out, on both databases (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class, for bulk statements (typed: ``__table__`` is a FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))  # one of central.roles.ALL_ROLES
    node_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[str | None] = mapped_column(String(64))  # a department token's department
    name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    camera_id: Mapped[str] = mapped_column(String(64), index=True)  # the first camera
    cameras: Mapped[list[str]] = mapped_column(JSON)  # every camera grouped into it
    road: Mapped[str] = mapped_column(String(128), default="")
    state: Mapped[str] = mapped_column(String(16), index=True)  # open | cleared | closed
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    alert_count: Mapped[int] = mapped_column(Integer, default=0)
    best_score: Mapped[float] = mapped_column(Float, default=0.0)
    snapshot: Mapped[str | None] = mapped_column(String(64))
    clip: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OpenKey(Base):
    """camera:kind -> the incident open for it. Deleted when the detection clears or the order ends."""

    __tablename__ = "open_keys"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    #: Never loaded (lazy="raise"); declared so that one flush inserts an incident before the rows
    #: that refer to it (the unit of work orders tables by relationships, not by foreign keys).
    incident: Mapped[Incident] = relationship(lazy="raise")


class AlertRow(Base):
    __tablename__ = "alerts"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    node_id: Mapped[str] = mapped_column(String(64))
    camera_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    phase: Mapped[str] = mapped_column(String(16))
    seq: Mapped[int] = mapped_column(BigInteger)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    video_time_s: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    bbox: Mapped[list[float] | None] = mapped_column(JSON)
    region: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    snapshot: Mapped[str | None] = mapped_column(String(64))
    clip: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    work_order_id: Mapped[int | None] = mapped_column(BigInteger)


class WorkOrder(Base):
    __tablename__ = "work_orders"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(16))  # camera | grid_worker | public
    kind: Mapped[str] = mapped_column(String(64), index=True)
    service_code: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[str] = mapped_column(String(4))
    department_id: Mapped[str] = mapped_column(String(64), index=True)
    grid_id: Mapped[str | None] = mapped_column(String(64), index=True)
    village_id: Mapped[str | None] = mapped_column(String(64))
    camera_id: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee_id: Mapped[str | None] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), unique=True)
    incident: Mapped[Incident | None] = relationship(lazy="raise")  # flush order only (see OpenKey)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(512))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    media_url: Mapped[str | None] = mapped_column(String(1024))
    status_notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledge_by: Mapped[datetime] = mapped_column(UTCDateTime())
    arrive_by: Mapped[datetime] = mapped_column(UTCDateTime())
    close_by: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    detection_cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledge_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arrive_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    close_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The handling loop (migration 0003). Stage deadlines besides acknowledge/arrive/close: accept (set
    # at dispatch), feedback (the department's handling deadline), verify (set at feedback).
    accept_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verify_by: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accept_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    feedback_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    verify_escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    rework_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Missed stage deadlines so far (supervision: the first goes to the department lead, later ones
    #: to the duty lead); raised by the same conditional UPDATE that records the miss.
    supervision_misses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: A department's extension request waiting for the dispatcher (None: none pending).
    extension_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    extension_reason: Mapped[str | None] = mapped_column(Text)


class HistoryRow(Base):
    """Append-only: who did what to a work order, when, with what note and attachments."""

    __tablename__ = "work_order_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    work_order: Mapped[WorkOrder] = relationship(lazy="raise")  # flush order only (see OpenKey)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(Text, default="")
    attachments: Mapped[list[str]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)


class Silence(Base):
    __tablename__ = "silences"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(128))
    work_order_id: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index("ix_silences_camera_kind", "camera_id", "kind"),)


class FeedEvent(Base):
    __tablename__ = "feed_events"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    type: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class CameraState(Base):
    __tablename__ = "camera_states"
    camera_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    faults: Mapped[list[str]] = mapped_column(JSON)
    status_since: Mapped[datetime] = mapped_column(UTCDateTime())
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_frame_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fps_in: Mapped[float] = mapped_column(Float, default=0.0)
    fps_analysed: Mapped[float] = mapped_column(Float, default=0.0)
    decode_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    reconnects: Mapped[int] = mapped_column(BigInteger, default=0)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)


class CameraStatusLog(Base):
    """Every change of a camera's status or faults: availability and fault history come from here."""

    __tablename__ = "camera_status_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    faults: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(String(64), default="heartbeat")

    __table_args__ = (Index("ix_camera_status_log_camera_at", "camera_id", "at"),)


class NodeState(Base):
    __tablename__ = "node_states"
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_heartbeat_id: Mapped[str] = mapped_column(String(64))
    live_url: Mapped[str | None] = mapped_column(String(256))
    #: The node's current live-view secret (from its heartbeats), presented when relaying offers.
    live_key: Mapped[str | None] = mapped_column(String(128))
    health: Mapped[dict[str, Any]] = mapped_column(JSON)


class IdempotentReply(Base):
    """The first answer to a write that carried an ``Idempotency-Key``: a repeat gets it back.

    Unique per caller (a hash of the credential) and key, so one phone's keys never answer another's.
    """

    __tablename__ = "idempotent_replies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    caller: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    request: Mapped[str] = mapped_column(String(256))
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(128))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    __table_args__ = (Index("uq_idempotent_replies_caller_key", "caller", "key", unique=True),)


class NotificationMessage(Base):
    """One outbound message: one or more notices (a burst grouped) for one recipient on one channel.

    ``delivery_id`` is unique and sent with every attempt, so a receiver can drop a repeat (a hub that
    died after the receiver answered but before ``sent`` was stored sends it again). While
    ``attempts`` is 0 and ``group_until`` is ahead, later notices for the same channel and recipient
    join ``payload``; the first attempt fixes it.
    """

    __tablename__ = "notification_messages"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(64), unique=True)
    channel: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(160))  # "department:<id>", "worker:<id>", "lead:<id>"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)  # {"recipient": {...}, "notices": [...]}
    state: Mapped[str] = mapped_column(String(16))  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    group_until: Mapped[datetime] = mapped_column(UTCDateTime())
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_try_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_notification_messages_state_next", "state", "next_try_at"),
        Index("ix_notification_messages_open", "channel", "recipient", "state"),
    )


class NotifierState(Base):
    """The notifier's place in the feed log, and which hub process holds the sending role until when
    (a lease, renewed while that process lives, taken over once it lapses)."""

    __tablename__ = "notifier_state"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger)  # the last feed event id routed
    holder: Mapped[str | None] = mapped_column(String(128))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- the camera registry (the hub owns the town's configuration; see central/registry.py) ---------


class RegistryState(Base):
    """One row: the registry's revision, raised by every write (edges fetch when it moves on)."""

    __tablename__ = "registry_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RegistryCamera(Base):
    """A camera's configuration as its YAML entry holds it (only the keys that were set)."""

    __tablename__ = "registry_cameras"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order in cameras.yaml
    version: Mapped[int] = mapped_column(Integer)  # raised by each write of this camera (If-Match)
    doc: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(128))


class RegistrySection(Base):
    """Every other section of the town folder (villages, grids, nodes, detection, ...)."""

    __tablename__ = "registry_sections"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    doc: Mapped[Any] = mapped_column(JSON)
    header: Mapped[str] = mapped_column(Text, default="")  # the file's top comment lines
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(128))


class RegistryAudit(Base):
    """Append-only: who changed which camera or section, when, before and after."""

    __tablename__ = "registry_audit"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    revision: Mapped[int] = mapped_column(BigInteger, index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(16))  # seed | create | update | delete | import
    target: Mapped[str] = mapped_column(String(16))  # camera | section
    target_id: Mapped[str] = mapped_column(String(64), index=True)
    before: Mapped[Any | None] = mapped_column(JSON)
    after: Mapped[Any | None] = mapped_column(JSON)
