"""Event steps and the per-kind event state machine, as pure logic (no images, no I/O).

Detectors say, frame by frame, whether a condition holds; this module turns that noisy yes/no into
events a dispatcher can act on: raised only after the condition has persisted, updated at most every
``update_every_s``, and cleared only after ``clear_s`` of normal scene, so one fault is one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gridwatch.wire import EventKind, Phase, stable_id

BBox = tuple[float, float, float, float]
Details = dict[str, float | int | str | bool | None]


@dataclass(frozen=True, slots=True)
class Event:
    """One step (onset, update or clear) of one event on one camera."""

    kind: EventKind
    phase: Phase
    event_id: str  # stable, shared by onset/updates/clear (gridwatch.wire.stable_id)
    t: float  # video time of this step
    start_s: float  # video time the event was raised (onset time)
    score: float  # 0..1
    bbox: BBox | None  # 0..1 frame coordinates
    region: str | None  # ROI name (road/slope) or None
    snapshot_jpeg: bytes | None  # JPEG of the analysis frame with ROI + bbox drawn
    details: Details


class Hysteresis:
    """A yes/no from a figure with two thresholds, so a figure hovering near one does not flap.

    With ``high_is_bad`` the state turns on when the value reaches ``on_at`` and off only when it falls
    to ``off_at`` or below (``off_at`` < ``on_at``); otherwise the other way round.
    """

    def __init__(self, on_at: float, off_at: float, high_is_bad: bool = True) -> None:
        if high_is_bad and off_at >= on_at:
            raise ValueError("off_at must be below on_at when high values are bad")
        if not high_is_bad and off_at <= on_at:
            raise ValueError("off_at must be above on_at when low values are bad")
        self.on_at = on_at
        self.off_at = off_at
        self.high_is_bad = high_is_bad
        self.on = False

    def update(self, value: float) -> bool:
        if self.high_is_bad:
            self.on = value > self.off_at if self.on else value >= self.on_at
        else:
            self.on = value < self.off_at if self.on else value <= self.on_at
        return self.on

    def reset(self) -> None:
        self.on = False


@dataclass(slots=True)
class _Standing:
    event_id: str
    start_s: float
    last_emit_t: float
    score: float
    bbox: BBox | None
    region: str | None
    details: Details = field(default_factory=dict)


class EventTracker:
    """The life of one kind of event on one camera.

    ``observe`` is called once per analysed frame with whether the condition holds now. The condition
    must hold for ``persist_s`` (gaps up to ``gap_s`` do not restart the count: a car passing in front
    of debris hides it for a frame or two) before an onset; while standing, updates come at most
    every ``update_every_s``; after ``clear_s`` without the condition the event clears.
    """

    def __init__(self, camera_id: str, kind: EventKind, persist_s: float, clear_s: float,
                 update_every_s: float, gap_s: float = 0.0) -> None:
        self.camera_id = camera_id
        self.kind = kind
        self.persist_s = persist_s
        self.clear_s = clear_s
        self.update_every_s = update_every_s
        self.gap_s = gap_s
        self._pending_since: float | None = None
        self._first_miss: float | None = None
        self._normal_since: float | None = None
        self._standing: _Standing | None = None

    @property
    def standing(self) -> bool:
        return self._standing is not None

    @property
    def standing_bbox(self) -> BBox | None:
        return self._standing.bbox if self._standing is not None else None

    @property
    def pending_since(self) -> float | None:
        """When the condition began, while it has not yet lasted long enough to raise (else None)."""
        return self._pending_since

    def observe(self, t: float, active: bool, score: float = 1.0, bbox: BBox | None = None,
                region: str | None = None, details: Details | None = None) -> Event | None:
        """Feed one frame's verdict; return the event step it causes, if any."""
        details = dict(details or {})
        score = min(1.0, max(0.0, float(score)))
        if self._standing is None:
            return self._observe_idle(t, active, score, bbox, region, details)
        return self._observe_standing(t, active, score, bbox, region, details)

    def _observe_idle(self, t: float, active: bool, score: float, bbox: BBox | None,
                      region: str | None, details: Details) -> Event | None:
        if active:
            gap_over = self._first_miss is not None and t - self._first_miss > self.gap_s
            if self._pending_since is None or gap_over:
                self._pending_since = t
            self._first_miss = None
            if t - self._pending_since >= self.persist_s:
                return self.raise_now(t, score, bbox, region, details)
            return None
        if self._pending_since is not None:
            if self._first_miss is None:
                self._first_miss = t
            if t - self._first_miss >= self.gap_s:
                self._pending_since = None
                self._first_miss = None
        return None

    def raise_now(self, t: float, score: float, bbox: BBox | None = None, region: str | None = None,
                  details: Details | None = None) -> Event | None:
        """Raise at once (persistence already judged elsewhere, e.g. offline); None if standing."""
        if self._standing is not None:
            return None
        event_id = stable_id(self.camera_id, self.kind.value, f"{t:.3f}")
        self._standing = _Standing(event_id, t, t, score, bbox, region, dict(details or {}))
        self._pending_since = None
        self._normal_since = None
        return self._step(Phase.ONSET, t)

    def _observe_standing(self, t: float, active: bool, score: float, bbox: BBox | None,
                          region: str | None, details: Details) -> Event | None:
        st = self._standing
        assert st is not None
        if active:
            self._normal_since = None
            st.score, st.details = score, details
            if bbox is not None:
                st.bbox = bbox
            if region is not None:
                st.region = region
            if t - st.last_emit_t >= self.update_every_s:
                st.last_emit_t = t
                return self._step(Phase.UPDATE, t)
            return None
        if self._normal_since is None:
            self._normal_since = t
        if t - self._normal_since >= self.clear_s:
            return self.clear_now(t)
        return None

    def clear_now(self, t: float) -> Event | None:
        """Clear at once (e.g. frames came back after offline); None if nothing stands."""
        if self._standing is None:
            return None
        step = self._step(Phase.CLEAR, t)
        self._standing = None
        self._normal_since = None
        self._pending_since = None
        self._first_miss = None
        return step

    def reset_pending(self) -> None:
        """Forget a condition that was building up (e.g. the picture became unusable)."""
        self._pending_since = None
        self._first_miss = None

    def _step(self, phase: Phase, t: float) -> Event:
        st = self._standing
        assert st is not None
        return Event(kind=self.kind, phase=phase, event_id=st.event_id, t=t, start_s=st.start_s,
                     score=st.score, bbox=st.bbox, region=st.region, snapshot_jpeg=None,
                     details=dict(st.details))
