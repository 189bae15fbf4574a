"""Road obstructions: find what stands on the road that does not belong there, and say what it is.

Per analysed frame the block classifier (ONNX) says, for every block of the view, whether it differs
from the learned reference in a way light, shadow, rain and shake do not explain, and whether it
looks like debris (rock, mud, vegetation), water, or a solid object. Per block we then keep a short
memory (dual-background idea, Porikli 2008: "differs from the slow reference AND has stopped
changing") so traffic that passes is told from things that stay:

* ``run``   analysed frames in a row the block has been anomalous (with hysteresis on its score),
* ``still`` frames in a row it was anomalous AND unchanged since the previous frame,
* ``first_t`` when its anomaly began, ``rest_t`` when it came to rest,
* a running mean of its class probabilities.

Standing blocks on the road form components; each component gets its width share of the road at its
row band and a kind, decided from its class mix and how it arrived: debris that arrived within
seconds next to recent activity on the slope (or, without a slope ROI, anywhere) is a landslide; a
water surface is flooding; anything else standing wide enough is a road blockage. The event state
machines (edge.events) then apply persistence and clearing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.background import Reference
from edge.detectors_blocks import BLOCK, block_features, block_mean, norm_gain
from edge.events import BBox, Details, EventTracker
from edge.obstruction_decide import ARRIVAL_S, Component, decide, decide_learned
from edge.obstruction_learned import Context, feature_vector
from edge.obstruction_measure import DIM_LEVEL, MIN_BLOCKS, MIN_BLOCKS_FAR, Measures, measure_component
from edge.onnx_models import ModelBundle
from edge.regions import RegionMasks
from edge.road_geometry import RoadGeometry
from gridwatch.config import DetectionSettings
from gridwatch.wire import OBSTRUCTION_KINDS, EventKind

#: Block anomaly score (1 - P(benign)) to turn a block on, and to keep it on.
ON_AT, OFF_AT = 0.6, 0.35
#: Mean absolute grey change (after light normalisation) below which a block has not changed.
STILL_DIFF = 7.0
#: A resting thing (a stopped vehicle) may be hidden from view, by traffic passing in front of it, this
#: long at a time without its stop clock restarting (a lorry passes in a few seconds).
HIDDEN_S = 10.0
#: Slope activity counts as the origin if it happened this long before the material arrived.
SLOPE_LOOKBACK_S = 8.0
#: Blocks anomalous without a standing event this long are absorbed into the reference.
ABSORB_S = 1800.0
#: A block that differs from a reference from the very first frame it is compared with (within this
#: many seconds) shows a flaw of that reference, not something that arrived: a "ghost" of a person or
#: car that stood still through most of the warm-up, whose median then kept it. Such blocks are not
#: standing obstructions and are learned away (by design an obstruction present while a reference is
#: learned is part of the scene; see MODEL_CARD.md, "Warm-up").
GHOST_WITHIN_S = 1.5
#: Hysteresis on the road share of a blockage: once something standing has spanned the minimum width,
#: it keeps counting at this fraction of it for HOLD_S seconds (a flood's edge or a pile's rim read
#: at the threshold flickers by a block from frame to frame).
HOLD_FRAC = 0.75
HOLD_S = 5.0


#: Called with (time, measures, context) of every measured component: training data for the decision.
DecisionTap = Callable[[float, Measures, Context], None]


@dataclass(slots=True)
class Observation:
    """What the detector sees for one kind on this frame."""

    active: bool = False
    score: float = 0.0
    bbox: BBox | None = None
    region: str | None = None
    details: Details = field(default_factory=dict)
    judged: bool = False  # its persistence is judged already (a stopped vehicle's time): raise at once


@dataclass(slots=True)
class Findings:
    observations: dict[EventKind, Observation]
    keep: np.ndarray | None  # pixels the reference must not learn now (H x W bool)
    anomaly: np.ndarray | None = None  # per-block anomaly score (for the report and tuning)


class ObstructionDetector:
    """Per-camera obstruction detector; call ``analyse`` for each healthy frame."""

    def __init__(self, masks: RegionMasks, settings: DetectionSettings, models: ModelBundle,
                 tap: DecisionTap | None = None) -> None:
        self.settings = settings
        self.models = models
        self.tap = tap
        if settings.decision == "learned" and models.decision is None:
            models.decide_probs(np.zeros((0, 1), np.float32))  # raises ModelError saying what to build
        h, w = masks.shape
        self.gy, self.gx = h // BLOCK, w // BLOCK
        self.set_regions(masks)
        # when each reference (by serial) was first compared with; kept through pause(), so something
        # that arrived while the picture was bad is not taken for a ghost
        self._ref_first: dict[int, float] = {}
        self._reset()

    def set_regions(self, masks: RegionMasks) -> None:
        """Use these regions from now on (a proposed road that changed); per-block memory is kept."""
        self.masks = masks
        cover = block_mean(masks.road.astype(np.float32))
        # a block partly on the road counts: material resting on the road's edge is on the road
        self.road = cover >= 0.25
        self.slope = (block_mean(masks.slope.astype(np.float32)) >= 0.5) if masks.slope is not None else None
        ign = block_mean(masks.ignore.astype(np.float32)) >= 0.5
        self.road &= ~ign
        if self.slope is not None:
            self.slope &= ~ign & ~self.road
        self.road_area = max(1, int(self.road.sum()))
        self.parking = (block_mean(masks.parking.astype(np.float32)) >= 0.5) if masks.parking is not None \
            else np.zeros_like(self.road)
        self.geometry = RoadGeometry(masks, self.road)
        # Where material may come from when no slope ROI is given: the road's own border (not the bottom
        # of the frame, where the camera's near side is).
        self.edge_band = self.geometry.edge_band()
        # Road blocks where slope material first lands: next to the slope, or the road's border.
        if self.slope is not None:
            self.entry = self.road & (cv2.dilate(self.slope.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0)
            # the strip of road (2 blocks deep) on the slope's side: where material from the slope
            # lands even when its way down the slope is not seen (torn-off turf looks like the slope)
            self.side: np.ndarray = self.road & (
                cv2.dilate(self.slope.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
            # distance of every block from the slope (blocks), to tell material spreading away from it
            self.slope_dist: np.ndarray | None = cv2.distanceTransform(
                (~self.slope).astype(np.uint8), cv2.DIST_L2, 3)
            # slope blocks at the road's edge: where fallen material may rest partly off the road
            self.verge: np.ndarray | None = self.slope & (
                cv2.dilate(self.road.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
            self.slope_verge = self.verge
        else:
            self.entry = self.edge_band
            self.side = self.edge_band
            self.slope_dist = None
            self.verge = None
            self.slope_verge = np.zeros_like(self.road)

    def _reset(self) -> None:
        shape = (self.gy, self.gx)
        self.on = np.zeros(shape, bool)
        self.run = np.zeros(shape, np.int32)
        self.still = np.zeros(shape, np.int32)
        self.miss = np.zeros(shape, np.int32)
        self.first_t = np.zeros(shape, np.float64)
        self.rest_t = np.zeros(shape, np.float64)
        self.probs = np.zeros((*shape, 4), np.float32)
        self.slope_last = np.full(shape, -1e9)
        self.origin = np.zeros(shape, bool)
        self.origin_side = np.zeros(shape, bool)
        self.prev_grey: np.ndarray | None = None
        self.prev_gain = 1.0
        self._features = np.zeros((self.gy, self.gx, 1), np.float32)
        self._lit = np.zeros((self.gy, self.gx), np.float32)
        self._dim = False
        self._level = 128.0
        self._held: list[tuple[float, BBox]] = []  # (last time, box) of blockage candidates
        self._pix_diff = np.zeros(self.masks.shape, np.float32)
        self._gain_k = 1.0
        self._ghost = np.zeros(shape, bool)
        # a standing thing's own clock: since when each block has kept the look it came to rest with
        # (passing traffic may hide it for up to HIDDEN_S at a time)
        self.calm_since = np.zeros(shape, np.float64)
        self.calm_seen = np.zeros(shape, np.float64)  # last time the block showed its resting look
        self.has_rest = np.zeros(shape, bool)
        self.rest_frames = np.zeros(shape, np.int32)  # frames since it came to rest...
        self.like_frames = np.zeros(shape, np.int32)  # ...in which it showed its resting look
        self.rest_grey = np.zeros(self.masks.shape, np.float32)
        self.rest_gain = 1.0
        self._standing: list[BBox] = []

    def _ghosts(self, t: float, ref: Reference, now_on: np.ndarray) -> np.ndarray:
        """Blocks anomalous ever since this reference was first used (see GHOST_WITHIN_S)."""
        first = self._ref_first.setdefault(ref.serial, t)
        if t - first <= GHOST_WITHIN_S:
            self._ghost |= now_on
        self._ghost &= now_on
        return self._ghost

    def _update_calm(self, t: float, grey: np.ndarray, gain: float, now_on: np.ndarray,
                     still: np.ndarray) -> None:
        """Keep each anomalous block's resting look and since when it has kept it (``calm_since``)."""
        if self.has_rest.any():
            ratio = gain / max(1e-3, self.rest_gain)
            like = block_mean(np.abs(grey - self.rest_grey * ratio)) < STILL_DIFF
        else:
            like = np.zeros_like(now_on)
        like &= self.has_rest & now_on
        self.calm_seen[like] = t
        self.rest_frames += self.has_rest
        self.like_frames += like
        lost = self.has_rest & (~now_on | (~like & (t - self.calm_seen > HIDDEN_S)))
        self.has_rest &= ~lost
        begin = now_on & still & ~self.has_rest
        if begin.any():
            # the resting look is kept at the light of its first block's rest (close enough for the
            # others: light changes over minutes, a vehicle's look is compared over seconds)
            if not self.has_rest.any():
                self.rest_gain = gain
            up = np.repeat(np.repeat(begin, BLOCK, axis=0), BLOCK, axis=1)
            sel = np.zeros(self.masks.shape, bool)
            sel[: up.shape[0], : up.shape[1]] = up
            self.rest_grey[sel] = grey[sel] * (self.rest_gain / max(1e-3, gain))
            self.calm_since[begin] = t
            self.calm_seen[begin] = t
            self.rest_frames[begin] = 1
            self.like_frames[begin] = 1
            self.has_rest |= begin
        self.calm_since[~self.has_rest] = t

    def pause(self) -> None:
        """The picture went bad: forget what was building up."""
        self._reset()

    def analyse(self, t: float, image: np.ndarray, grey: np.ndarray, ref: Reference,
                standing: list[BBox] | None = None) -> Findings:
        st = block_features(image, ref.bgr)
        gy, gx = st.mean.shape
        probs = self.models.classify_blocks(st.features.reshape(-1, st.features.shape[-1]))
        probs = probs.reshape(gy, gx, -1)
        anom = 1.0 - probs[..., 0]
        was_on = self.on
        now_on = np.where(was_on, anom >= OFF_AT, anom >= ON_AT)
        # hysteresis in space too: a weaker block next to a clearly anomalous one is part of it (the rim
        # of a pile that covers only part of its block)
        strong = cv2.dilate((anom >= ON_AT).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        now_on |= strong & (anom >= OFF_AT)
        # frame-to-frame change per block, after taking out the global light change
        if self.prev_grey is not None:
            ratio = st.gain / max(1e-3, self.prev_gain)
            moving_diff = block_mean(np.abs(st.grey - self.prev_grey * ratio))
        else:
            moving_diff = np.full((gy, gx), 255.0, np.float32)
        still_now = moving_diff < STILL_DIFF
        self.prev_grey, self.prev_gain = st.grey, st.gain

        ghost = self._ghosts(t, ref, now_on)
        started = now_on & ~was_on & (self.run == 0)
        self.first_t[started] = t
        # Did new anomalies come from the slope? They must start in the entry zone beside the slope
        # while the slope itself is active (material moving down it), or spread from such blocks
        # while the material is still arriving.
        # The slope counts as active where its blocks are anomalous (material on it), not merely
        # changing: head-lights and rain change a slope at dusk without anything moving down it.
        if self.slope is not None:
            active_slope = self.slope & now_on
            self.slope_last[active_slope] = t
            recent = (self.slope_last >= t - SLOPE_LOOKBACK_S).astype(np.uint8)
            near = self.entry & (cv2.dilate(recent, np.ones((5, 5), np.uint8)) > 0)
        else:
            near = self.entry
        arriving = self.origin & self.on & (self.first_t >= t - ARRIVAL_S)
        spread = cv2.dilate(arriving.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        self.origin[started] = (near | spread)[started]
        arriving_side = self.origin_side & self.on & (self.first_t >= t - ARRIVAL_S)
        spread_side = cv2.dilate(arriving_side.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        self.origin_side[started] = (self.side | spread_side)[started]

        keep_on = now_on
        self.run = np.where(keep_on, self.run + 1, 0)
        self.miss = np.where(now_on, 0, self.miss + 1)
        inc = now_on & still_now & was_on
        newly_still = inc & (self.still == 0)
        self.rest_t[newly_still] = t
        self.still = np.where(now_on, np.where(inc, self.still + 1, self.still), 0)
        self._update_calm(t, st.grey, st.gain, now_on, inc)
        self.origin &= now_on
        self.origin_side &= now_on
        a = 0.3
        upd = now_on[..., None]
        mixed = np.where((self.run == 1)[..., None], probs, (1 - a) * self.probs + a * probs)
        self.probs = np.where(upd, mixed, 0.0).astype(np.float32)
        self.on = now_on

        water = self.probs[..., 2] > np.maximum(self.probs[..., 1], self.probs[..., 3])
        standing_mask = self.road & now_on & ~ghost & ((self.still >= 1) | (water & (self.run >= 3)))
        self._features = st.features
        self._lit = block_max(grey.astype(np.float32) - ref.grey * st.gain)
        self._pix_diff = st.grey - ref.grey * st.gain
        self._gain_k = norm_gain(ref.level)
        self._dim = ref.level < DIM_LEVEL
        self._level = float(ref.level)
        self._standing = list(standing or [])
        colour, ref_colour = block_colour(image), block_colour(ref.bgr)
        comps = self._components(t, standing_mask, colour, ref_colour)
        if self.verge is not None and not any(c.kind == EventKind.LANDSLIDE for c in comps):
            # material that came down the slope and lies at the road's edge, mostly on the verge
            verge_mask = (self.road | self.verge) & now_on & ~ghost & (self.still >= 1)
            comps += self._components(t, verge_mask, colour, ref_colour, self.road | self.verge, True)
        self._held = [(ht, hb) for ht, hb in self._held if t - ht <= HOLD_S]
        self._held += [(t, c.bbox) for c in comps if c.kind == EventKind.ROAD_BLOCKAGE]
        obs = {k: Observation() for k in OBSTRUCTION_KINDS}
        for comp in comps:
            o = obs[comp.kind]
            if comp.score > o.score:
                obs[comp.kind] = Observation(True, comp.score, comp.bbox, "road", comp.details, comp.judged)
        keep = self._keep_mask(t, now_on & ~ghost, standing)
        return Findings(obs, keep, anom)

    def _components(self, t: float, mask: np.ndarray, colour: np.ndarray, ref_colour: np.ndarray,
                    area: np.ndarray | None = None, landslide_only: bool = False) -> list[Component]:
        """Standing components within ``area`` (the road), measured, then judged.

        ``landslide_only``: components of road and verge, judged only as landslides, and only those
        with some of their standing blocks on the road, or with differing pixels connected to them
        reaching onto the road (``verge_reach``).
        """
        m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        m &= (self.road if area is None else area).astype(np.uint8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
        out: list[Component] = []
        for i in range(1, n):
            x, y, w, h, blocks = (int(v) for v in stats[i])
            if blocks < (MIN_BLOCKS_FAR if not landslide_only else MIN_BLOCKS):
                continue
            sel = (labels == i) & mask
            if not sel.any():
                continue
            need = self._min_width(self._bbox(x, y, w, h))
            measures = measure_component(self, t, sel, (x, y, w, h), blocks, colour, ref_colour,
                                         landslide_only, need)
            if measures is None:
                continue
            held = any(overlaps(measures.bbox, sb) for sb in self._standing)
            comp = self._decide(t, measures, need, landslide_only, held)
            if comp is not None:
                out.append(comp)
        return out

    def _decide(self, t: float, m: Measures, need: float, landslide_only: bool,
                held: bool) -> Component | None:
        has_slope = self.slope is not None
        if self.tap is None and self.settings.decision == "rules":
            return decide(m, self.settings, need, has_slope, landslide_only, held)
        ctx = Context(need=need, has_slope=has_slope, verge_only=landslide_only, level=self._level)
        if self.tap is not None:
            self.tap(t, m, ctx)
        if self.settings.decision == "rules":
            return decide(m, self.settings, need, has_slope, landslide_only, held)
        probs = self.models.decide_probs(feature_vector(m, ctx)[None, :])[0]
        return decide_learned(m, probs, self.settings, need, landslide_only, held)

    def _min_width(self, bbox: BBox) -> float:
        """Road share a blockage needs here: less where one stood a moment ago (hysteresis)."""
        held = any(overlaps(bbox, hb) for _, hb in self._held)
        return self.settings.blockage_min_width * (HOLD_FRAC if held else 1.0)

    def _bbox(self, x: int, y: int, w: int, h: int) -> BBox:
        H, W = self.masks.shape
        return (round(x * BLOCK / W, 4), round(y * BLOCK / H, 4),
                round(min(W, (x + w) * BLOCK) / W, 4), round(min(H, (y + h) * BLOCK) / H, 4))

    def _keep_mask(self, t: float, on: np.ndarray, standing: list[BBox] | None) -> np.ndarray:
        """Pixels not to learn: anomalous blocks, unless they have been so for ABSORB_S outside events."""
        keep_b = on.copy()
        old = on & (t - self.first_t > ABSORB_S)
        if standing:
            inside = np.zeros_like(on)
            for x0, y0, x1, y1 in standing:
                r0, r1 = int(y0 * self.gy), int(np.ceil(y1 * self.gy))
                inside[r0:r1, int(x0 * self.gx):int(np.ceil(x1 * self.gx))] = True
            old &= ~inside
        keep_b &= ~old
        keep_b = cv2.dilate(keep_b.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        H, W = self.masks.shape
        full = np.zeros((H, W), bool)
        up = np.repeat(np.repeat(keep_b, BLOCK, axis=0), BLOCK, axis=1)
        full[: up.shape[0], : up.shape[1]] = up
        return full


def block_max(a: np.ndarray) -> np.ndarray:
    """Max of each block (gy x gx)."""
    h, w = a.shape[:2]
    hh, ww = h // BLOCK * BLOCK, w // BLOCK * BLOCK
    return a[:hh, :ww].reshape(hh // BLOCK, BLOCK, ww // BLOCK, BLOCK).max(axis=(1, 3))


def block_colour(image: np.ndarray) -> np.ndarray:
    """Mean BGR of every block (gy x gx x 3)."""
    return block_mean(np.asarray(image, dtype=np.float32))


def overlaps(a: BBox, b: BBox) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def route_observations(trackers: dict[EventKind, EventTracker], observations: dict[EventKind, Observation]
                       ) -> dict[EventKind, Observation]:
    """One obstruction, one event: a standing event owns what overlaps its box.

    A landslide that has been raised stays a landslide even if, minutes later, its material reads
    more like a generic blockage; observations of another kind that overlap a standing event's box keep
    that event alive instead of raising a second one. Owners in priority order: landslide, flooding,
    blockage.
    """
    out = {k: Observation() for k in observations}
    for kind, obs in observations.items():
        target = kind
        if obs.active and obs.bbox is not None:
            for owner in (EventKind.LANDSLIDE, EventKind.FLOODING, EventKind.ROAD_BLOCKAGE):
                box = trackers[owner].standing_bbox
                if owner != kind and box is not None and overlaps(box, obs.bbox):
                    target = owner
                    break
        if obs.active and (not out[target].active or obs.score > out[target].score):
            out[target] = obs
    return out
