"""What one intake transaction knows while it folds a batch of alerts into incidents.

Folding a batch alert by alert would ask the database several things per alert (is a key open,
which incident, its order, the event's earlier incidents, silences, neighbours' incidents); a
:class:`Fold` asks them once for the whole batch (:meth:`Fold.preload`, at most six queries) and
then answers from memory, with the new rows of the batch, until the batch's one flush. The rules of
folding itself are in :mod:`central.incidents`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from central.ids import Ids
from central.routing import Neighbourhoods
from central.tables import AlertRow, Incident, OpenKey, Silence, WorkOrder
from gridwatch.config import Town
from gridwatch.wire import OBSTRUCTION_KINDS, Alert, Phase


@dataclass(slots=True)
class Fold:
    """What one intake transaction has learnt, so that folding a batch of alerts costs a few
    queries for the whole batch instead of several per alert: open keys and their incidents and
    orders; for alerts with no open incident also the incidents their event already joined, the
    silences in force (only people make those, never intake) and the grouping candidates; and the
    incidents joined by alerts of this transaction (their alert rows are linked at the end, so a
    query on the alerts table cannot see them yet). Anything not preloaded is queried as needed."""

    orders: dict[int, int | None] = field(default_factory=dict)
    events: dict[str, list[int]] = field(default_factory=dict)
    #: Keys known to have no open incident (a look-up would only find what this batch adds).
    absent: set[str] = field(default_factory=set)
    #: Event id -> incidents its stored alerts joined (any state; read live from the session).
    stored_events: dict[str, set[int]] = field(default_factory=dict)
    #: (camera, kind) pairs whose silences were loaded, and those of them silenced now.
    silence_known: set[tuple[str, str]] = field(default_factory=set)
    silenced: set[tuple[str, str]] = field(default_factory=set)
    #: (kind, road) -> ids of the incidents open for it (grouping candidates), where loaded.
    groups: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    #: A stored candidate's state, last seen and cameras as preloaded: plain columns, because a
    #: busy road has many open incidents; only those neighbouring a camera of the batch are loaded
    #: whole (with their orders), as an alert may join them. Once an incident is in the session
    #: (loaded so, joined, merged) the live object is read instead.
    group_rows: dict[int, tuple[str, datetime, list[str]]] = field(default_factory=dict)
    #: Strong references: the session's identity map holds unmodified objects only weakly.
    loaded: list[Any] = field(default_factory=list)
    #: Ids for new rows (None: each new row is flushed to learn its id). With ids, what a batch makes
    #: stays pending until the batch's one flush, so it is found here, not in the identity map.
    ids: Ids | None = None
    #: Neighbouring cameras, worked out once per hub (None: worked out for this fold).
    near: Neighbourhoods | None = None
    made: dict[int, Incident] = field(default_factory=dict)
    new_keys: dict[str, OpenKey] = field(default_factory=dict)

    def incident(self, s: Session, incident_id: int) -> Incident:
        """An incident by id, made in this batch or stored."""
        made = self.made.get(incident_id)
        return made if made is not None else s.get_one(Incident, incident_id)

    def open_key(self, s: Session, key: str) -> OpenKey | None:
        if key in self.absent:
            return None
        made = self.new_keys.get(key)
        return made if made is not None else s.get(OpenKey, key)

    def add_key(self, s: Session, key: str, incident_id: int) -> None:
        ok = OpenKey(key=key, incident_id=incident_id)
        s.add(ok)
        self.new_keys[key] = ok
        self.absent.discard(key)

    def add_incident(self, s: Session, inc: Incident, with_order: bool = False) -> None:
        """Add a new incident; it has its id afterwards (from ``ids``, or by a flush). ``with_order``:
        a work order for it follows (its id comes with the incident's, see :meth:`Ids.take`)."""
        if self.ids is not None:
            inc.id = self.ids.take(Incident, also=WorkOrder if with_order else None)
        s.add(inc)
        self.keep(inc)
        if self.ids is None:
            s.flush()
        self.made[inc.id] = inc

    def keep(self, obj: Any) -> None:
        """Hold an object made or joined in this transaction, so later alerts find it without SQL."""
        self.loaded.append(obj)

    def preload(self, s: Session, town: Town, alerts: list[Alert], now: datetime) -> None:
        """Load what folding these alerts will look at, in at most six queries (one for a batch
        whose alerts all merge into open incidents)."""
        if not alerts:
            return
        keys = {open_key(a.camera_id, a.kind.value) for a in alerts}
        held: set[str] = set()
        # the keys held, with their incidents and orders, in one query (each is a round trip)
        for key, inc, order_id in s.execute(_KEYS_HELD, {"keys": sorted(keys)}).all():
            self.loaded += [key, inc]
            self.orders[inc.id] = order_id
            held.add(key.key)
        self.absent |= keys - held
        ids: set[int] = set()
        lonely = [a for a in alerts if open_key(a.camera_id, a.kind.value) in self.absent]
        if lonely:
            ids |= self._load_events(s, {a.event_id for a in lonely})
            opening = [a for a in lonely if a.phase is not Phase.CLEAR]
            self._load_silences(s, {(a.camera_id, a.kind.value) for a in opening}, now)
            ids |= self._load_groups(s, town, opening, now)
        ids -= self.orders.keys()
        if ids:
            self.loaded += list(s.execute(_INCIDENTS, {"ids": sorted(ids)}).scalars())
            found = dict(s.execute(_ORDERS_OF, {"ids": sorted(ids)}).all())
            for i in ids:
                self.orders[i] = found.get(i)

    def _load_events(self, s: Session, events: set[str]) -> set[int]:
        for event_id in events:
            self.stored_events.setdefault(event_id, set())
        ids: set[int] = set()
        for event_id, incident_id in s.execute(_EVENTS_JOINED, {"events": sorted(events)}).all():
            if incident_id is None:  # not asked for (the query takes joined alerts only)
                continue
            self.stored_events[event_id].add(incident_id)
            ids.add(incident_id)
        return ids

    def _load_silences(self, s: Session, pairs: set[tuple[str, str]], now: datetime) -> None:
        if not pairs:
            return
        rows = s.execute(_SILENCES, {"cameras": sorted({c for c, _ in pairs}), "now": now}).all()
        self.silenced |= {(c, k) for c, k in rows}
        self.silence_known |= pairs

    def _load_groups(self, s: Session, town: Town, alerts: list[Alert], now: datetime) -> set[int]:
        """Load the grouping candidates' columns; returns those an alert of the batch could join
        (a camera of theirs neighbours the alert's), to be loaded whole with their orders."""
        if town.hub.incident_group_window_s <= 0:
            return set()
        cams = town.cameras_by_id()
        near = self.near or Neighbourhoods(town)
        reach: dict[tuple[str, str], set[str]] = {}  # (kind, road) -> cameras its alerts neighbour
        for a in alerts:
            road = cams[a.camera_id].road
            if a.kind in OBSTRUCTION_KINDS and road:
                reach.setdefault((a.kind.value, road), set()).update(near.of(a.camera_id))
        if not reach:
            return set()
        # Seen within the window only: an older one can become a candidate again only by an alert
        # of this batch merging into it, and _apply adds it back then.
        since = now - timedelta(seconds=town.hub.incident_group_window_s)
        params = {"kinds": sorted({k for k, _ in reach}), "roads": sorted({r for _, r in reach}),
                  "since": since}
        for pair in reach:
            self.groups[pair] = set()
        joinable = set()
        for inc_id, kind, road, state, last_seen, cameras in s.execute(_GROUP_CANDIDATES, params).all():
            if (kind, road) in reach:
                self.groups[(kind, road)].add(inc_id)
                self.group_rows[inc_id] = (state, last_seen, cameras)
                if not reach[(kind, road)].isdisjoint(cameras):
                    joinable.add(inc_id)
        return joinable

    def candidate(self, s: Session, incident_id: int) -> tuple[Incident | None, str, datetime, list[str]]:
        """A grouping candidate as it stands now: the live object where the session has it (made or
        changed in this transaction), else the preloaded columns (object None)."""
        live = self.made.get(incident_id) or s.identity_map.get(identity_key(Incident, incident_id))
        if live is not None:
            return live, live.state, live.last_seen, live.cameras
        return None, *self.group_rows[incident_id]


# What Fold.preload asks, built once: building a statement and working out its cache key cost a
# third of running it (a batch runs up to six of them, whatever its size).
_KEYS_HELD = (
    select(OpenKey, Incident, WorkOrder.id)
    .join(Incident, Incident.id == OpenKey.incident_id)
    .outerjoin(WorkOrder, WorkOrder.incident_id == Incident.id)
    .where(OpenKey.key.in_(bindparam("keys", expanding=True)))
)
_INCIDENTS = select(Incident).where(Incident.id.in_(bindparam("ids", expanding=True)))
_ORDERS_OF = select(WorkOrder.incident_id, WorkOrder.id).where(
    WorkOrder.incident_id.in_(bindparam("ids", expanding=True)))
_EVENTS_JOINED = (
    select(AlertRow.event_id, AlertRow.incident_id)
    .where(AlertRow.event_id.in_(bindparam("events", expanding=True)), AlertRow.incident_id.is_not(None))
    .distinct()
)
_SILENCES = select(Silence.camera_id, Silence.kind).where(
    Silence.camera_id.in_(bindparam("cameras", expanding=True)),
    Silence.starts_at <= bindparam("now"),
    Silence.ends_at > bindparam("now"),
)
_GROUP_CANDIDATES = select(
    Incident.id, Incident.kind, Incident.road, Incident.state, Incident.last_seen, Incident.cameras
).where(
    Incident.state == "open",
    Incident.kind.in_(bindparam("kinds", expanding=True)),
    Incident.road.in_(bindparam("roads", expanding=True)),
    Incident.last_seen >= bindparam("since"),
)


def open_key(camera_id: str, kind: str) -> str:
    return f"{camera_id}:{kind}"
