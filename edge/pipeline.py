"""One camera's analysis: health checks, detectors and event state machines, the same live and offline.

Use::

    models = load_models()                      # once per process, shared by all cameras
    pipe = CameraPipeline("cam-001", rois, town.detection, models)
    for frame in frames:                        # edge.frames.Frame at the analysis size
        for event in pipe.process(frame): ...   # onset / update / clear steps
    pipe.tick(t, wall)                          # when no frame arrived: raises camera_offline

``load_models()`` (re-exported from :mod:`edge.onnx_models`) returns the :class:`ModelBundle`. Without
models the pipeline still checks camera health but detects no obstructions.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import cv2
import numpy as np

from edge.background import Reference, SceneModel
from edge.events import Event, EventTracker
from edge.frames import Frame
from edge.health import PICTURE_FAULTS, HealthFigures, HealthMonitor, grey_of
from edge.obstruction import DecisionTap, ObstructionDetector, route_observations
from edge.onnx_models import ModelBundle, load_models
from edge.rate import Activity, RatePolicy, SkipGate
from edge.regions import build_masks
from edge.road_proposal import RoadProposer, mask_polygon
from edge.snapshot import draw_snapshot
from gridwatch.config import DetectionSettings, Roi
from gridwatch.wire import OBSTRUCTION_KINDS, EventKind, Phase

__all__ = ["CameraPipeline", "ModelBundle", "load_models"]

#: Seconds of frames a new camera learns its scene from before it may raise obstructions.
WARMUP_S = 15.0
#: Time constant (s) of the slow reference.
ADAPT_S = 90.0
#: A view that has stayed moved this long becomes the new normal: relearn it.
RELEARN_AFTER_MOVED_S = 60.0
#: Without a road ROI the road is proposed again this often (traffic seen since refines it), and, until
#: a first proposal could be made, retried this often.
PROPOSE_EVERY_S = 30.0
PROPOSE_RETRY_S = 5.0
#: A new proposal replaces the road in use only when the two overlap (IoU of their blocks) less than
#: this: a road that moves by a block or two from one proposal to the next changes nothing.
PROPOSAL_CHANGED_IOU = 0.9


class CameraPipeline:
    """Per-camera: health checks + detectors + event state machines. Same object live and offline."""

    def __init__(self, camera_id: str, rois: list[Roi], settings: DetectionSettings,
                 models: ModelBundle | None = None, tap: DecisionTap | None = None) -> None:
        """``tap``: called with every measured component (training data for the decision model)."""
        self.camera_id = camera_id
        self._tap = tap
        self.rois = list(rois)
        self.settings = settings
        self.models = models
        fps = settings.analysis_fps
        self._fps = fps
        gap = 1.5 / fps
        s = settings
        self._faults = {k: EventTracker(camera_id, k, s.fault_persist_s, s.clear_s, s.update_every_s, gap)
                        for k in PICTURE_FAULTS}
        self._offline = EventTracker(camera_id, EventKind.CAMERA_OFFLINE, 0.0, 0.0, s.update_every_s)
        self._obstr = {
            EventKind.LANDSLIDE: EventTracker(camera_id, EventKind.LANDSLIDE, s.landslide_persist_s,
                                              s.clear_s, s.update_every_s, gap),
            EventKind.ROAD_BLOCKAGE: EventTracker(camera_id, EventKind.ROAD_BLOCKAGE, s.blockage_persist_s,
                                                  s.clear_s, s.update_every_s, max(gap, 3.0)),
            EventKind.FLOODING: EventTracker(camera_id, EventKind.FLOODING, s.flooding_persist_s, s.clear_s,
                                             s.update_every_s, max(gap, 3.0)),
        }
        self._scene = SceneModel(warmup_frames=round(WARMUP_S * fps), adapt_frames=ADAPT_S * fps)
        self._health: HealthMonitor | None = None
        self._detector: ObstructionDetector | None = None
        self._last_t: float | None = None
        self._first_tick: float | None = None
        self._last_image: np.ndarray | None = None
        self._figures: HealthFigures | None = None
        self._moved_since: float | None = None
        self._rate = RatePolicy()
        self._skip = SkipGate()
        self._beside_road: np.ndarray | None = None
        self._proposer: RoadProposer | None = None
        self._proposal: list[tuple[float, float]] | None = None
        self._proposal_blocks: np.ndarray | None = None
        self._proposed_at: float | None = None

    # --- public -----------------------------------------------------------------------------------

    @property
    def faults(self) -> list[EventKind]:
        """Camera faults standing now (for heartbeats)."""
        out = [k for k, tr in self._faults.items() if tr.standing]
        if self._offline.standing:
            out.insert(0, EventKind.CAMERA_OFFLINE)
        return out

    @property
    def scores(self) -> dict[str, float]:
        """Health figures now (sharpness, brightness, ...)."""
        f = self._figures
        if f is None:
            return {}
        out = {"brightness": round(f.brightness, 2), "sharpness": round(f.sharpness, 4),
               "changed": round(f.changed, 4), "exposure": round(f.exposure, 4)}
        for name in ("sharp_ratio", "shift_px", "structure", "occluded", "covered"):
            v = getattr(f, name)
            if v is not None:
                out[name] = round(float(v), 4)
        out["learned"] = 1.0 if self._scene.ready else 0.0
        return out

    @property
    def road_proposal(self) -> list[list[float]] | None:
        """The road this camera proposed for itself (no road ROI given), 0..1 [x, y] pairs; else None."""
        return None if self._proposal is None else [[x, y] for x, y in self._proposal]

    @property
    def learning(self) -> bool:
        """True while the camera is still learning its first reference (no obstructions yet)."""
        return not self._scene.ready

    @property
    def dense_until(self) -> float:
        """Adaptive rate (``edge.rate``): stream time until which this camera wants frames at the
        configured rate; after it, key frames only (nothing seen that could become an event)."""
        return self._rate.dense_until

    def tick(self, t: float, wall: datetime) -> list[Event]:
        """No frame arrived: raise camera_offline after ``offline_after_s`` without frames."""
        base = self._last_t
        if base is None:
            if self._first_tick is None:
                self._first_tick = t
            base = self._first_tick
        if t - base >= self.settings.offline_after_s and not self._offline.standing:
            ev = self._offline.raise_now(t, 1.0, None, None, {"silent_s": round(t - base, 1)})
            return [self._with_snapshot(ev, self._last_image)] if ev else []
        return []

    def process(self, frame: Frame) -> list[Event]:
        """Analyse one frame; return the event steps it causes."""
        events: list[Event] = []
        image = self._analysis_image(frame.image)
        t = frame.t
        if self._offline.standing:
            ev = self._offline.clear_now(t)
            if ev:
                events.append(self._with_snapshot(ev, frame.image))
        self._last_t = t
        self._last_image = frame.image
        if self.settings.adaptive_rate and self._skip.skip(t, image, self._rate.dense_at(t)):
            return events  # adaptive rate: a quiet camera's frame that shows nothing new (edge.rate)
        grey = grey_of(image)
        if self._health is None:
            self._health = HealthMonitor(image.shape[1], self._fps)
            self._detector = (ObstructionDetector(build_masks(self.rois, grey.shape), self.settings,
                                                  self.models, self._tap) if self.models else None)
            if not any(r.name.lower() == "road" for r in self.rois):
                self._proposer = RoadProposer(grey.shape)
        figures0 = self._health.measure(grey)
        ref = self._scene.reference_for(figures0.brightness)
        figures = figures0 if ref is None else self._health.measure_with_reference(
            figures0, grey, ref.grey, ref.sharpness, ref.grad, ref.level, t, ref.serial)
        self._figures = figures
        conditions = self._health.conditions(figures)
        primary = next((k for k in PICTURE_FAULTS if conditions.get(k, (False, 0.0))[0]), None)
        for kind, tracker in self._faults.items():
            active, score = conditions.get(kind, (False, 0.0))
            ev = tracker.observe(t, kind == primary and active, score, None, None,
                                 {"figure": _figure_of(kind, figures)})
            if ev:
                events.append(self._with_snapshot(ev, frame.image))
        picture_bad = primary is not None or any(tr.standing for tr in self._faults.values())
        self._handle_moved(t)
        if picture_bad:
            for tr in self._obstr.values():
                tr.reset_pending()
            if self._detector is not None:
                self._detector.pause()
            self._rate.judge(t, self._activity(primary))
            return events
        self._health.note_healthy(figures)
        if self._proposer is not None:
            self._observe_traffic(t, grey, ref)
        keep = None
        if self._detector is not None and ref is not None and not self._scene.learning_new:
            standing = [tr.standing_bbox for tr in self._obstr.values() if tr.standing_bbox is not None]
            found = self._detector.analyse(t, image, grey, ref, standing)
            keep = found.keep
            for kind, obs in route_observations(self._obstr, found.observations).items():
                tracker = self._obstr[kind]
                if obs.active and obs.judged and not tracker.standing:
                    ev = tracker.raise_now(t, obs.score, obs.bbox, obs.region, obs.details)
                else:
                    ev = tracker.observe(t, obs.active, obs.score, obs.bbox, obs.region, obs.details)
                if ev:
                    events.append(self._with_snapshot(ev, frame.image))
        self._scene.learn(image, grey, figures.brightness, keep)
        self._rate.judge(t, self._activity(primary))
        return events

    # --- internals ----------------------------------------------------------------------------------

    def _activity(self, primary: EventKind | None) -> Activity:
        """What this frame showed that could become an event, for the adaptive rate: anomalous
        blocks where slope material lands on the road, or lingering on or beside the road (unchanged
        since the last frame, or anomalous three frames in a row), not traffic passing through; the
        slope moving; an event building up or standing. A fault that stands (a camera dark all night)
        needs no dense frames; one building up does."""
        det = self._detector
        near = slope = False
        if det is not None and det.on.any():
            if self._beside_road is None:  # the road and one block around it
                self._beside_road = cv2.dilate(det.road.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            lingering = (det.still >= 1) | (det.run >= 3)
            near = bool((det.on & ((self._beside_road & lingering) | det.side | det.entry)).any())
            slope = det.slope is not None and bool((det.on & det.slope).any())
        fault = (primary is not None and not self._faults[primary].standing) or any(
            tr.pending_since is not None for tr in self._faults.values()) or (
            self._skip.still_picture and not self._faults[EventKind.CAMERA_FROZEN].standing)
        pending = any(tr.pending_since is not None or tr.standing for tr in self._obstr.values())
        return Activity(learning=not self._scene.ready or self._scene.learning_new, fault_candidate=fault,
                        near_road=near, slope_motion=slope, event_pending=pending)

    def _observe_traffic(self, t: float, grey: np.ndarray, ref: Reference | None) -> None:
        """Feed the road proposer and, when due, use its new proposal as the road."""
        assert self._proposer is not None
        det = self._detector
        standing_blocks = (det.on & (det.still > 0)) if det is not None else None
        self._proposer.observe(grey, standing_blocks)
        if ref is None or self._scene.learning_new:
            return
        every = PROPOSE_EVERY_S if self._proposal is not None else PROPOSE_RETRY_S
        if self._proposed_at is not None and t - self._proposed_at < every:
            return
        # never move the road under something that is being judged or stands
        if any(tr.standing or tr.pending_since is not None for tr in self._obstr.values()):
            return
        self._proposed_at = t
        mask = self._proposer.propose_mask(ref.bgr)
        if mask is None:
            return
        old = self._proposal_blocks
        if old is not None and _iou(mask, old) >= PROPOSAL_CHANGED_IOU:
            return
        polygon = mask_polygon(mask, grey.shape)
        if polygon is None:
            return
        try:
            road = Roi(name="road", polygon=polygon)
        except ValueError:
            return  # a degenerate outline: keep the road in use
        self._proposal, self._proposal_blocks = polygon, mask
        if det is not None:
            det.set_regions(build_masks([*self.rois, road], grey.shape))

    def _handle_moved(self, t: float) -> None:
        if self._faults[EventKind.CAMERA_MOVED].standing:
            if self._moved_since is None:
                self._moved_since = t
            elif t - self._moved_since >= RELEARN_AFTER_MOVED_S:
                self._scene.relearn()
                if self._detector is not None:
                    self._detector.pause()
                if self._proposer is not None:
                    # a new view: its road is proposed anew from the traffic seen from now on
                    self._proposer = RoadProposer(self._proposer.shape)
                    self._proposal = self._proposal_blocks = self._proposed_at = None
                    if self._detector is not None:
                        self._detector.set_regions(build_masks(self.rois, self._proposer.shape))
                self._moved_since = None
        else:
            self._moved_since = None

    def _analysis_image(self, image: np.ndarray) -> np.ndarray:
        w = self.settings.analysis_width
        if image.shape[1] == w:
            return image
        h = max(1, round(image.shape[0] * w / image.shape[1]))
        return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)

    def _with_snapshot(self, ev: Event, image: np.ndarray | None) -> Event:
        if image is None:
            return ev
        region = self.rois if ev.kind in OBSTRUCTION_KINDS else []
        label = f"{self.camera_id} {ev.kind.value} {ev.phase.value}"
        if ev.phase == Phase.CLEAR:
            label += " (cleared)"
        jpeg = draw_snapshot(image, region, ev.bbox, label)
        return dataclasses.replace(ev, snapshot_jpeg=jpeg)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = int((a | b).sum())
    return 1.0 if union == 0 else float((a & b).sum()) / union


def _figure_of(kind: EventKind, f: HealthFigures) -> float | None:
    value = {
        EventKind.CAMERA_TOO_DARK: f.darkness, EventKind.CAMERA_OVEREXPOSED: f.exposure,
        EventKind.CAMERA_FROZEN: f.changed, EventKind.CAMERA_BLURRED: f.sharp_ratio,
        EventKind.CAMERA_OCCLUDED: None if f.occluded is None else max(f.occluded, f.covered or 0.0),
        EventKind.CAMERA_MOVED: f.shift_px,
    }.get(kind)
    return None if value is None else round(float(value), 4)
