"""What a standing component on the road is, from its measures (:mod:`edge.obstruction_measure`).

Physical gates, each justified in a sentence: standing water is a clear, large surface; a landslide is
earth and rock that arrived within seconds from the slope's side and made the road no smoother; a
vehicle is a solid object that drove in and stopped (judged against ``stopped_vehicle_s``, not the
blockage persistence); anything else that stands wide enough is a road blockage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.events import BBox, Details
from edge.obstruction_learned import DECISION_CLASSES
from edge.obstruction_measure import MIN_BLOCKS, MIN_STRENGTH, Measures
from gridwatch.config import DetectionSettings
from gridwatch.wire import EventKind

#: A landslide's material must have arrived within this many seconds (first change to rest).
ARRIVAL_S = 20.0
#: Without seen slope activity, material from the slope must have spread on: the blocks it reached after
#: its first ones lie this many blocks (mean) further from the slope than those first ones...
SPREAD_AWAY = 1.0
#: ...and it must have arrived within this many seconds (a landslide comes down within seconds; water
#: rising from the road's lowest ground on the slope's side takes longer).
SIDE_ARRIVAL_S = 8.0
#: A landslide does not make the road smoother: the mean texture change beyond what the brightness
#: change explains (feature d_texture_vs_bright, a log ratio) must not be under -SMOOTHER.
SMOOTHER = 0.5
#: Least share of the road's area standing water must cover to be flooding.
FLOOD_MIN_AREA = 0.03
#: Water is "clear" when its probability is at least FLOOD_CLEAR and FLOOD_OVER times any other class
#: (a weak water reading over a small area is more likely a person or an object with a reflection).
FLOOD_CLEAR = 0.6
FLOOD_OVER = 1.3
#: Standing water counts as large from this share of the road's area even when it spans less than the
#: blockage width (a puddle along the road).
FLOOD_WIDE_AREA = 0.1
#: Natural material (rock, mud): debris and water together at least EARTHY_NATURAL, debris at least
#: EARTHY_DEBRIS and EARTHY_OVER_OBJECT times the solid-object reading (in dim light wet mud reads
#: partly as water; a person or a vehicle reads as "object" in part).
EARTHY_NATURAL = 0.7
EARTHY_DEBRIS = 0.2
EARTHY_OVER_OBJECT = 2.5
#: Whatever blocks a road arrives within seconds (a fall, a dump, a vehicle that stops): (most of) a
#: blockage's blocks turned anomalous within this many seconds of its first. The shadow of a slow cloud
#: spreads over tens of seconds as it drifts in.
BLOCKAGE_GATHER_S = 15.0
#: A thing standing on the road keeps its look: in at least this share of the frames since it came to
#: rest it looked as it did then (passing traffic hides it for a second or two now and then); light
#: sweeping over the road at night and drifting shadows do not hold still.
STEADY_MIN = 0.7
#: A vehicle's painted body and glass read as a solid object more than as anything else: the object
#: class holds at least half the probability and is above debris and water (people read partly as
#: object, partly as a smooth surface; their size and gathering tell them apart, below).
VEHICLE_OBJECT = 0.5
#: A vehicle drives in and stops: (most of) its blocks turned anomalous within this many seconds (at
#: 10 km/h a car covers its own length in under 2 s; people gather one by one, and people moving in
#: place turn blocks off and on, which restarts their clock).
VEHICLE_GATHER_S = 4.0
#: A vehicle is at least ~1.6 m wide and a carriageway with its shoulders at most ~12 m: it spans at
#: least this share of the road's width (a person is ~0.5 m, two or three side by side 1-1.5 m).
VEHICLE_MIN_SHARE = 0.12
#: A vehicle mostly (this share of its blocks) in a parking region stops where stopping is normal.
PARKING_SHARE = 0.5


@dataclass(slots=True)
class Component:
    """One connected group of standing blocks on the road, with its kind."""

    kind: EventKind
    share: float  # of the road's width at its row band
    area: float  # of the road's area
    score: float
    bbox: BBox
    details: Details
    judged: bool = False  # persistence already judged (a stopped vehicle's time): raise at once


def decide(m: Measures, settings: DetectionSettings, need: float, has_slope: bool,
           landslide_only: bool, held: bool = False) -> Component | None:
    """The kind of a measured component, or None when it is not an obstruction (yet).

    ``need``: the road share a blockage needs here (less where one stood a moment ago). ``held``: it
    overlaps an event that stands now (a stopped vehicle stays raised while it is there).
    """
    s = settings
    if m.water >= max(m.debris, m.obj) and not landslide_only:
        other = max(m.debris, m.obj)
        clear = m.water >= FLOOD_CLEAR and m.water >= FLOOD_OVER * other and m.blocks >= MIN_BLOCKS
        large = (m.share >= s.blockage_min_width or m.area_share >= FLOOD_WIDE_AREA) \
            and m.area_share >= FLOOD_MIN_AREA
        if clear and large:
            score = min(1.0, m.strength * max(m.share / s.blockage_min_width, m.area_share / FLOOD_WIDE_AREA))
            return Component(EventKind.FLOODING, m.share, m.area_share, score, m.bbox, m.details)
        # not clearly water: whatever stands there may still block the road
    if _is_landslide(m, s, has_slope):
        score = min(1.0, m.strength * min(1.0, 2 * m.share / s.blockage_min_width))
        return Component(EventKind.LANDSLIDE, m.share, m.area_share, score, m.bbox, m.details)
    if landslide_only or m.strength < MIN_STRENGTH:
        return None
    vehicle = is_vehicle(m)
    if vehicle:
        m.details["cause"] = "vehicle"
        if m.in_parking >= PARKING_SHARE:
            return None  # stopping there is normal
    share = m.share
    small = m.blocks < MIN_BLOCKS
    if m.pixel_share is not None:
        share = m.pixel_share if small else max(share, m.pixel_share)
    elif small:
        return None
    if vehicle:
        # a vehicle is judged by how long it stood (stopped_vehicle_s), whatever its share of the width:
        # a lorry that stops across the road for a minute to turn or unload is not yet an obstruction
        if m.calm_s >= settings.stopped_vehicle_s or held:
            # a vehicle stopped on the carriageway too long, whatever its share of the width
            return Component(EventKind.ROAD_BLOCKAGE, share, m.area_share, m.strength, m.bbox, m.details,
                             judged=True)
        return None
    if not held and (m.gather_s > BLOCKAGE_GATHER_S or m.steady < STEADY_MIN):
        return None  # crept in over tens of seconds, or never held still: light, not a thing
    if share >= need:
        # wide enough to block the road: judged by the blockage persistence, vehicle or not
        score = min(1.0, m.strength * min(1.0, share / need))
        return Component(EventKind.ROAD_BLOCKAGE, share, m.area_share, score, m.bbox, m.details)
    return None


def is_vehicle(m: Measures) -> bool:
    """A solid object that drove in and stopped as one rigid thing. In dim light its body may read as
    anything, but a thing that carries its own lights (head or tail lights, ``self_lit``) is a
    vehicle: rock, mud, water and fallen trees give no light of their own."""
    solid = m.obj >= VEHICLE_OBJECT and m.obj >= max(m.debris, m.water)
    wide = m.share >= VEHICLE_MIN_SHARE  # blocks: people's shadows widen them at pixel level
    return (solid or m.self_lit) and wide and m.blocks >= MIN_BLOCKS and m.gather_s <= VEHICLE_GATHER_S


def _is_landslide(m: Measures, s: DetectionSettings, has_slope: bool) -> bool:
    """Earth and rock that came from the slope's side within seconds and rests across the road."""
    natural = m.debris + m.water
    earthy = (natural >= EARTHY_NATURAL and m.debris >= EARTHY_DEBRIS
              and m.debris >= EARTHY_OVER_OBJECT * m.obj)
    # Where it came from: seen coming down the slope (a few of its first blocks beside active slope
    # blocks), or, a weaker hint, most of its first blocks on the road's slope side (its border when
    # there is no slope ROI). A slope ROI must never make a landslide harder to see than no slope ROI.
    spread = not has_slope or (m.away >= SPREAD_AWAY and m.arrival_s <= SIDE_ARRIVAL_S)
    came = (has_slope and m.origin >= 0.1) or (m.side >= 0.5 and spread)
    # rock and earth bring texture; a surface much smoother than its brightness change explains is a
    # water film, or a light that was there and left
    textured = m.textured_change >= -SMOOTHER
    return (m.blocks >= MIN_BLOCKS and earthy and textured and m.arrival_s <= ARRIVAL_S and came
            and not m.vegetation and not m.self_lit and m.share >= 0.5 * s.blockage_min_width)


def decide_learned(m: Measures, probs: np.ndarray, settings: DetectionSettings, need: float,
                   landslide_only: bool, held: bool = False) -> Component | None:
    """The kind the decision model (edge.obstruction_learned) gives a component, within the physical gates.

    The model says what the thing is; the gates say whether it is an obstruction yet: a landslide must
    reach half the blockage width onto the road, water must be large, a blockage must span ``need``, and
    a vehicle is judged by how long it has stood (``stopped_vehicle_s``), whatever its width, and not
    where stopping is normal (parking).
    """
    s = settings
    p = dict(zip(DECISION_CLASSES, (float(v) for v in probs), strict=True))
    if landslide_only:
        # road + verge components are looked at only for material that came down the slope
        if p["landslide"] < max(v for k, v in p.items() if k != "landslide"):
            return None
        kind = "landslide"
    else:
        kind = max(p, key=lambda k: p[k])
    if kind == "none":
        return None
    small = m.blocks < MIN_BLOCKS
    if small and (kind in ("landslide", "flooding") or (kind == "blockage" and m.pixel_share is None)):
        return None  # too few blocks to tell material or water; a small blockage counts by its pixel width
    score = p[kind]
    if kind == "landslide":
        if m.share < 0.5 * s.blockage_min_width:
            return None
        return Component(EventKind.LANDSLIDE, m.share, m.area_share, score, m.bbox, m.details)
    if kind == "flooding":
        large = (m.share >= s.blockage_min_width or m.area_share >= FLOOD_WIDE_AREA) \
            and m.area_share >= FLOOD_MIN_AREA
        if not large:
            return None
        return Component(EventKind.FLOODING, m.share, m.area_share, score, m.bbox, m.details)
    share = m.share if m.pixel_share is None else (
        m.pixel_share if m.blocks < MIN_BLOCKS else max(m.share, m.pixel_share))
    if kind == "vehicle":
        m.details["cause"] = "vehicle"
        if m.in_parking >= PARKING_SHARE:
            return None  # stopping there is normal
        if m.calm_s >= s.stopped_vehicle_s or held:
            return Component(EventKind.ROAD_BLOCKAGE, share, m.area_share, score, m.bbox, m.details,
                             judged=True)
        return None
    if share >= need:
        return Component(EventKind.ROAD_BLOCKAGE, share, m.area_share, score, m.bbox, m.details)
    return None
