"""The durable outbox: every alert and heartbeat is on disk before anyone tries to send it.

SQLite in WAL mode with ``synchronous=FULL``: a row that ``enqueue`` returned for survives a SIGKILL
of the worker and a power cut. ``edge.delivery`` takes the oldest row of each *lane* (one lane per
camera, one per node for heartbeats), so a camera's later message is never sent before its earlier
one is acknowledged, while one camera's stuck message does not hold up the others.

Held onsets: an onset is stored the moment it is detected, *held* while its clip is still being
recorded, then ``complete()``d with the clip; a held row blocks its camera's lane, so order is kept.
If the worker dies meanwhile, the next start releases held rows as they are (without clip): such an
alert is late by a restart, never lost.

Disk policy (bounded by ``max_bytes`` of message bodies):
- Only the newest heartbeat of a node is kept: a newer one supersedes the older (that is not a loss,
  an old heartbeat says nothing the new one does not; counted as ``superseded``).
- Alerts are kept until the bodies reach ``max_bytes``. Past it, the oldest ``update`` steps go first
  (an update only refreshes a standing event), then, if still over, the oldest alerts of any phase.
  Every such drop is counted (``dropped``, persisted), logged at WARNING and reported in heartbeats.
- A full filesystem (SQLite says SQLITE_FULL): nothing is stored, :class:`OutboxFull` is raised for
  an alert (the worker keeps it in memory and tries again), a heartbeat is skipped (the next one says
  the same); one ERROR line per minute says so and ``disk_full`` counts the refused writes.
- Messages the hub refuses for good (403/404/413/422 ...) move to ``dead_letter`` with the reason:
  never retried forever, never silently lost.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gridwatch.wire import Alert, Heartbeat

log = logging.getLogger("gridwatch.edge.outbox")

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,            -- alert | heartbeat
    lane TEXT NOT NULL,            -- camera id for alerts, 'node:<id>' for heartbeats
    phase TEXT,                    -- onset | update | clear for alerts
    body BLOB NOT NULL,            -- the JSON posted to the hub
    size INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    last_error TEXT,
    held INTEGER NOT NULL DEFAULT 0  -- 1: an onset waiting for its clip; blocks its lane
);
CREATE INDEX IF NOT EXISTS messages_lane ON messages (lane, id);
CREATE TABLE IF NOT EXISTS dead_letter (
    id INTEGER PRIMARY KEY,
    msg_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    lane TEXT NOT NULL,
    body BLOB NOT NULL,
    status INTEGER,
    reason TEXT NOT NULL,
    created REAL NOT NULL,
    died REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

PATHS = {"alert": "/api/v1/alerts", "heartbeat": "/api/v1/heartbeats"}
#: Seconds between repeats of the disk-full ERROR line.
DISK_FULL_LOG_EVERY_S = 60.0


class OutboxFull(OSError):
    """The filesystem under the outbox is full: the message was not stored."""


def _is_disk_full(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL or "full" in str(exc)


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    msg_id: str
    kind: str
    lane: str
    phase: str | None
    body: bytes
    attempts: int

    @property
    def path(self) -> str:
        return PATHS[self.kind]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    depth: int
    bytes: int
    dropped: int
    superseded: int
    dead: int
    delivered: int
    disk_full: int = 0  # writes refused by a full disk since the worker started (not persisted)


class Outbox:
    """One node's outbox file. Thread-safe: the analysis loop, heartbeats and delivery share it."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new file only
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(messages)")}
        if "held" not in columns:  # an outbox written by an older version
            self._db.execute("ALTER TABLE messages ADD COLUMN held INTEGER NOT NULL DEFAULT 0")
        released = self._db.execute("UPDATE messages SET held = 0 WHERE held = 1").rowcount
        if released:
            log.warning("outbox: %d onsets were still waiting for their clips when the worker last "
                        "stopped; they go out without clips", released)
        self.changed = threading.Event()  # set on every enqueue, so delivery wakes at once
        self._deletes = 0
        self.disk_full = 0
        self._full_logged_at: float | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ------------------------------------------------------------------------------

    def enqueue_alert(self, camera_id: str, build: Callable[[int], Alert], held: bool = False) -> Alert:
        """Take the camera's next sequence number, build the alert with it and store it, atomically.

        ``build(seq)`` gets the sequence number; seq and row commit together, so a restart never
        reuses a number and never skips one that was stored. ``held``: not to be sent before
        :meth:`complete` (an onset whose clip is still being recorded; it blocks its camera's lane).
        """
        with self._write(f"alert of camera {camera_id}"):
            seq = self._bump(f"seq:{camera_id}") - 1
            alert = build(seq)
            if alert.camera_id != camera_id:
                raise ValueError(f"alert for {alert.camera_id} built under {camera_id}'s sequence")
            body = alert.model_dump_json().encode()
            self._db.execute(
                "INSERT OR IGNORE INTO messages (msg_id, kind, lane, phase, body, size, created, held) "
                "VALUES (?, 'alert', ?, ?, ?, ?, ?, ?)",
                (alert.id, alert.camera_id, alert.phase.value, body, len(body), time.time(), int(held)))
            self._enforce_cap()
        self.changed.set()
        return alert

    def complete(self, msg_id: str, alert: Alert | None = None) -> None:
        """Release a held alert, with ``alert`` (the same alert plus its clip) as its new body.

        Raises :class:`OutboxFull` on a full disk; the row then stays held (and a restart releases it).
        """
        if alert is not None and alert.id != msg_id:
            raise ValueError(f"alert {alert.id} cannot complete {msg_id}")
        with self._write(f"clip of alert {msg_id}"):
            if alert is None:
                self._db.execute("UPDATE messages SET held = 0 WHERE msg_id = ?", (msg_id,))
            else:
                body = alert.model_dump_json().encode()
                self._db.execute("UPDATE messages SET held = 0, body = ?, size = ? WHERE msg_id = ?",
                                 (body, len(body), msg_id))
                self._enforce_cap()
        self.changed.set()

    def enqueue_heartbeat(self, heartbeat: Heartbeat) -> None:
        """Store a heartbeat, superseding the node's older ones still waiting."""
        body = heartbeat.model_dump_json().encode()
        lane = f"node:{heartbeat.node_id}"
        try:
            with self._write("heartbeat (skipped; the next one replaces it)"):
                gone = self._db.execute("DELETE FROM messages WHERE lane = ? AND kind = 'heartbeat'",
                                        (lane,)).rowcount
                if gone:
                    self._add("superseded", gone)
                self._db.execute(
                    "INSERT OR IGNORE INTO messages (msg_id, kind, lane, phase, body, size, created) "
                    "VALUES (?, 'heartbeat', ?, NULL, ?, ?, ?)",
                    (heartbeat.id, lane, body, len(body), time.time()))
                self._enforce_cap()
        except OutboxFull:
            return  # noted by _write; a full disk costs a heartbeat, never an alert
        self.changed.set()

    @contextmanager
    def _write(self, what: str) -> Iterator[None]:
        """One write transaction under the lock; a full disk is noted (logged at most once a minute)
        and raised as :class:`OutboxFull` naming ``what`` was not stored."""
        try:
            with self._lock, self._tx():
                yield
        except sqlite3.OperationalError as exc:
            if not _is_disk_full(exc):
                raise
            self._note_disk_full(what, exc)
            raise OutboxFull(f"outbox disk full: {exc}") from exc
        self._note_disk_ok()

    def _note_disk_full(self, what: str, exc: sqlite3.Error) -> None:
        self.disk_full += 1
        now = time.monotonic()
        if self._full_logged_at is None or now - self._full_logged_at >= DISK_FULL_LOG_EVERY_S:
            self._full_logged_at = now
            log.error("outbox: disk full at %s (%s): could not store %s; alerts are held in memory "
                      "and stored when space returns (%d writes refused so far)",
                      self.path.parent, exc, what, self.disk_full)

    def _note_disk_ok(self) -> None:
        if self._full_logged_at is not None:
            self._full_logged_at = None
            log.warning("outbox: disk space is back at %s; storing again (%d writes were refused)",
                        self.path.parent, self.disk_full)

    # -- delivery side --------------------------------------------------------------------------

    def heads(self, limit: int = 100, skip_lanes: frozenset[str] = frozenset()) -> list[Message]:
        """The oldest message of each lane, oldest first: the only ones that may be sent now."""
        with self._lock:
            rows = self._db.execute(  # a lane whose oldest row is held has nothing to send yet
                "SELECT m.id, m.msg_id, m.kind, m.lane, m.phase, m.body, m.attempts FROM messages m "
                "JOIN (SELECT MIN(id) AS id FROM messages GROUP BY lane) h ON m.id = h.id "
                "WHERE m.held = 0 ORDER BY m.id").fetchall()
        out = [Message(*r) for r in rows if r[3] not in skip_lanes]
        return out[:limit]

    def ack(self, row_id: int) -> None:
        """The hub has it (2xx or duplicate): forget it."""
        with self._lock:
            with self._tx():
                if self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,)).rowcount:
                    self._add("delivered", 1)
            self._deletes += 1
            if self._deletes % 200 == 0:
                # Give freed pages back to the file system, so the file shrinks after a backlog drains.
                self._db.execute("PRAGMA incremental_vacuum")

    def failed(self, row_id: int, error: str) -> None:
        """A try that will be repeated: count it and keep the reason for inspection.

        Bookkeeping only: on a full disk it is skipped (the message itself is safe and is retried).
        """
        try:
            with self._write("a delivery attempt's count (skipped)"):
                self._db.execute("UPDATE messages SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                                 (error[:500], row_id))
        except OutboxFull:
            pass  # noted by _write; the message itself is safe and is retried

    def dead_letter(self, row_id: int, status: int | None, reason: str) -> None:
        """The hub refused it for good: move it aside with the reason, out of the lane."""
        with self._lock, self._tx():
            row = self._db.execute("SELECT id, msg_id, kind, lane, body, created FROM messages WHERE id = ?",
                                   (row_id,)).fetchone()
            if row is None:
                return
            self._db.execute(
                "INSERT OR REPLACE INTO dead_letter (id, msg_id, kind, lane, body, status, reason, created, "
                "died) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row[:5], status, reason[:2000], row[5], time.time()))
            self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,))
        log.error("outbox: %s %s (lane %s) refused by the hub for good (HTTP %s): %s; kept in dead_letter",
                  row[2], row[1], row[3], status, reason[:300])

    def dead_letters(self) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT msg_id, kind, lane, status, reason, died FROM dead_letter ORDER BY id").fetchall()
        return [dict(zip(("msg_id", "kind", "lane", "status", "reason", "died"), r, strict=True))
                for r in rows]

    # -- figures ------------------------------------------------------------------------------

    def stats(self) -> OutboxStats:
        with self._lock:
            depth, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
            dead = self._db.execute("SELECT COUNT(*) FROM dead_letter").fetchone()[0]
            counters = dict(self._db.execute("SELECT name, value FROM counters").fetchall())
        return OutboxStats(depth=depth, bytes=size, dropped=counters.get("dropped", 0),
                           superseded=counters.get("superseded", 0), dead=dead,
                           delivered=counters.get("delivered", 0), disk_full=self.disk_full)

    def pending_ids(self, kind: str = "alert") -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT msg_id FROM messages WHERE kind = ? ORDER BY id", (kind,)).fetchall()]

    def pending_bodies(self, lane: str) -> list[dict[str, object]]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM messages WHERE lane = ? ORDER BY id",
                                    (lane,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    # -- inside ----------------------------------------------------------------------------------

    def _tx(self) -> _Tx:
        return _Tx(self._db)

    def _bump(self, name: str, by: int = 1) -> int:
        self._db.execute("INSERT INTO counters (name, value) VALUES (?, ?) "
                         "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (name, by))
        return int(self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

    def _add(self, name: str, by: int) -> None:
        self._bump(name, by)

    def _enforce_cap(self) -> None:
        total = self._db.execute("SELECT COALESCE(SUM(size), 0) FROM messages").fetchone()[0]
        if total <= self.max_bytes:
            return
        # Order of sacrifice: stale heartbeats, then any heartbeat (alerts are kept in preference;
        # the next beat brings a fresh one), then oldest updates, then oldest of anything else.
        for where in ("kind = 'heartbeat' AND id NOT IN (SELECT MAX(id) FROM messages "
                      "WHERE kind = 'heartbeat' GROUP BY lane)",
                      "kind = 'heartbeat'",
                      "kind = 'alert' AND phase = 'update'",
                      "1 = 1"):
            rows = self._db.execute(f"SELECT id, msg_id, kind, lane, phase, size FROM messages WHERE {where} "
                                    "ORDER BY id").fetchall()
            for row_id, msg_id, kind, lane, phase, size in rows:
                if total <= self.max_bytes:
                    return
                self._db.execute("DELETE FROM messages WHERE id = ?", (row_id,))
                total -= size
                self._add("dropped", 1)
                log.warning("outbox: over its cap of %d bytes: dropped %s %s %s (lane %s, %d bytes)",
                            self.max_bytes, kind, phase or "", msg_id, lane, size)


class _Tx:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on an exception."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if self._db.in_transaction:  # a COMMIT that failed (disk full) leaves it open
                    self._db.execute("ROLLBACK")
                raise
        elif self._db.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL does)
            self._db.execute("ROLLBACK")
