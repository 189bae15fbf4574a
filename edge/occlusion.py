"""How much of the view something close to the lens covers: measures for ``camera_occluded``.

Two kinds of cover, both judged per 16 x 16 block against the learned reference:

* flat: a block that had texture and now has none (tape, a bag, paint, a flat board), where the light
  now falling on the scene would still show that texture;
* anything else: a block that no longer shows the scene (its pattern no longer correlates with the
  reference's, or its texture or brightness is not the scene's in the light of the moment) and that
  holds still: a leafy branch, a cloth, a dark textured object, a light one.

A cover is one large connected patch of such blocks that arrived at once, while the rest of the view
still matches its reference. Why each part, physically:

* **still, up to a sway**: something resting on or hanging in front of the lens keeps its pattern
  from one analysed frame to the next, give or take a few pixels of sway in the wind; traffic moves
  tens of pixels in a second, a shaking camera changes the whole view.
* **the rest matches**: a turned, blurred or shaken view changes everywhere; a cover hides a part.
* **the light of the moment**: dusk, sunset and clouds scale the scene's brightness and contrast;
  the pattern is compared after removing each block's mean and contrast (zero-mean correlation is
  blind to gain), the light level is read from the blocks that still match, and texture lost where
  that light level would leave too little of it to see is the light's doing, not a cover's.
* **arrived at once**: a cover is put there, blown there or falls there within a second or two, so
  each of its blocks changed abruptly against its own look a few seconds before; a sunset or a slow
  change of light takes minutes, a block's look drifts by a few per cent in those seconds.
* **arrived together**: a cover is one thing, so its blocks all stop showing the scene within a few
  seconds of each other; water or mud spreading over a road reaches its blocks one after another,
  over tens of seconds, each abruptly as the front passes.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Block size (px at the analysis size) of the occlusion measures: coarse enough to be cheap and to
#: hold a pattern worth correlating.
OCC_BLOCK = 16
#: A block of the frame "has texture" when its grey standard deviation is at least this (sensor and
#: compression noise stay under it).
TEXTURE_STD = 4.0
#: A block of the reference has a pattern worth correlating from this deviation on: the reference is
#: learned over many frames, so their noise is averaged out of it, and a night scene's faint detail
#: (2.5-4 grey levels) is the scene's own.
REF_TEXTURE_STD = 2.5
#: A textured block matches its reference when the zero-mean normalised correlation of their patterns
#: is at least MATCH_NCC, and no longer does under DIFFER_NCC (between: undecided, neither).
MATCH_NCC = 0.5
DIFFER_NCC = 0.25
#: A block that had no texture differs when it now has this many times the reference's deviation plus
#: NEW_TEXTURE_PLUS (a textured cover over sky or a plain wall).
NEW_TEXTURE_X = 2.0
NEW_TEXTURE_PLUS = 6.0
#: Texture the reference had is "still visible in this light" when the reference's deviation, scaled
#: by the light level, is at least this many times TEXTURE_STD; below, losing it is the light's doing
#: (dusk drowns fine texture in sensor noise), not a cover's.
VISIBLE_X = 2.0
#: A block whose pattern is not clearly kept (correlation under MATCH_NCC) and whose brightness is
#: more than this factor off the scene's at the light level of the moment shows something else: a
#: dark branch by day, a light cloth at night (a light change moves the whole view together).
BRIGHT_X = 1.5
#: The light level is read from the blocks that still match when at least this many do (otherwise
#: from all blocks: nothing in the view says the light changed differently from the whole).
MIN_LIGHT_BLOCKS = 8
#: Stillness is judged at half the analysis size, allowing a shift of up to this many half-size pixels
#: (6 px at the analysis size, 2 % of the width): a cover hanging in front of the lens sways a little
#: in the wind; traffic moves tens of pixels a second.
SWAY_HALF_PX = 3
#: A block is still when, at the best of those shifts, its pattern correlates with the previous
#: frame's by at least STILL_NCC, or its mean absolute change is under STILL_GREY grey levels (a flat
#: block has no pattern to correlate).
STILL_NCC = 0.7
STILL_GREY = 6.0
#: Stillness (the costly part) is measured only when blocks that no longer show the scene cover at
#: least this share of the view: a smaller patch can neither become nor stay a cover (PATCH_OFF in
#: ``edge.health`` is 0.25).
CANDIDATE_MIN = 0.25
#: The rest of the view still matches when at least this share of its textured blocks match (the
#: blocks next to the patch left out: a cover near the lens is out of focus, its rim blurs into them);
#: otherwise the whole view changed (turned, blurred, shaken) and it is not a cover.
REST_MATCH = 0.6
#: A cover arrives within a second or two: a block counts towards one only if, when it stopped showing
#: the scene (or up to ARRIVAL_S later: a cover sliding in), it also differed from its own look about
#: ARRIVAL_S earlier: brightness off by ABRUPT_X or more, a textured pattern replaced (correlation under
#: DIFFER_NCC), or visible texture lost or gained. Light changes take minutes: over ARRIVAL_S a sunset
#: changes a block by a few per cent. At least ARRIVED_SHARE of a patch (and of a flat cover) must
#: have arrived so; a block keeps its arrival until it has shown the scene again for ARRIVAL_S.
ARRIVAL_S = 3.0
#: A cover's blocks all stop showing the scene within a few seconds of each other (it is put, blown or
#: falls there as one thing); water or mud spreading over a road reaches its blocks one after another
#: over tens of seconds. Of a patch's blocks, the middle 80 % must have stopped showing the scene
#: within TOGETHER_S of each other.
TOGETHER_S = 6.0
ABRUPT_X = 1.3
ARRIVED_SHARE = 0.75


@dataclass(slots=True)
class Occlusion:
    """Shares of the view (0..1) covered flat, and covered by a still patch that no longer matches."""

    flat: float
    patch: float


def _block_mean(a: np.ndarray, block: int = OCC_BLOCK) -> np.ndarray:
    """Mean of every block x block block (the frame cut to whole blocks)."""
    h, w = a.shape
    hh, ww = h // block, w // block
    return cv2.resize(a[: hh * block, : ww * block], (ww, hh), interpolation=cv2.INTER_AREA)


def _std(mean: np.ndarray, mean_sq: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(0.0, mean_sq - mean * mean))


def still_blocks(cur: np.ndarray, prev: np.ndarray) -> np.ndarray:
    """Per OCC_BLOCK block: does it show the same thing as in the previous frame, up to a small sway?"""
    h, w = cur.shape
    hh, ww = h // OCC_BLOCK, w // OCC_BLOCK
    half = OCC_BLOCK // 2
    size = (ww * half, hh * half)
    a = cv2.resize(cur[: hh * OCC_BLOCK, : ww * OCC_BLOCK], size, interpolation=cv2.INTER_AREA)
    b = cv2.resize(prev[: hh * OCC_BLOCK, : ww * OCC_BLOCK], size, interpolation=cv2.INTER_AREA)
    r = SWAY_HALF_PX
    bp = cv2.copyMakeBorder(b, r, r, r, r, cv2.BORDER_REPLICATE)
    ma = _block_mean(a, half)
    sa = _std(ma, _block_mean(a * a, half))
    best_ncc = np.full(ma.shape, -1.0, np.float32)
    best_mad = np.full(ma.shape, np.inf, np.float32)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            s = bp[r + dy: r + dy + a.shape[0], r + dx: r + dx + a.shape[1]]
            ms = _block_mean(s, half)
            ss = _std(ms, _block_mean(s * s, half))
            ncc = (_block_mean(a * s, half) - ma * ms) / ((sa + 1e-3) * (ss + 1e-3))
            np.maximum(best_ncc, ncc, out=best_ncc)
            np.minimum(best_mad, _block_mean(cv2.absdiff(a, s), half), out=best_mad)
    return (best_mad < STILL_GREY) | ((sa >= TEXTURE_STD) & (best_ncc >= STILL_NCC))


@dataclass(slots=True)
class _Look:
    """What the blocks of one analysed frame looked like (for the arrival test)."""

    t: float
    grey: np.ndarray
    mean: np.ndarray
    std: np.ndarray


class OcclusionMeter:
    """Per camera: measures the cover share of each frame, remembering which blocks stopped showing the
    scene abruptly (so that a cover, which arrives at once, is told from a slow change of light)."""

    def __init__(self, assume_arrived: bool = False) -> None:
        #: with no history (a single frame measured on its own), take every block that does not show
        #: the scene as just arrived
        self._assume = assume_arrived
        self._away: np.ndarray | None = None  # per block: not showing the scene (since a while)
        self._abrupt: np.ndarray | None = None  # ...and it got there abruptly
        self._shown_since: np.ndarray | None = None  # per block: shows the scene again since (s), NaN
        self._away_since: np.ndarray | None = None  # per block: stopped showing the scene at (s), NaN
        self._serial: int | None = None  # which reference those were judged against
        self._looks: list[_Look] = []
        #: the last frame's gate figures (largest patch, rest matching, share arrived abruptly), to say
        #: why a patch was or was not a cover
        self.last: dict[str, float] = {}

    def measure(self, grey: np.ndarray, prev: np.ndarray | None, ref: np.ndarray, t: float,
                ref_serial: int = 0) -> Occlusion:
        """Flat cover share, and the share of the largest still non-matching patch that arrived
        abruptly while the rest of the view matches."""
        cur = grey.astype(np.float32)
        rf = ref.astype(np.float32)
        m_cur, m_ref = _block_mean(cur), _block_mean(rf)
        s_cur = _std(m_cur, _block_mean(cur * cur))
        s_ref = _std(m_ref, _block_mean(rf * rf))
        # zero-mean normalised correlation of each block's pattern with the reference's
        ncc = (_block_mean(cur * rf) - m_cur * m_ref) / ((s_cur + 1e-3) * (s_ref + 1e-3))
        textured_ref = s_ref >= REF_TEXTURE_STD
        matches = textured_ref & (ncc >= MATCH_NCC)
        ratio = (m_cur + 4.0) / (m_ref + 4.0)
        light = float(np.median(ratio[matches] if int(matches.sum()) >= MIN_LIGHT_BLOCKS else ratio))
        off_light = np.abs(np.log(ratio / light)) > np.log(BRIGHT_X)
        # texture the reference had, scaled by the light of the moment (dimming never adds texture)
        expected = min(1.0, light) * s_ref
        flat = (s_cur < 3.0) & (expected > 2.0 * s_cur + 2.0)
        visible = expected >= VISIBLE_X * TEXTURE_STD
        differs = (textured_ref & visible & (s_cur < TEXTURE_STD)) | \
                  (textured_ref & (s_cur >= TEXTURE_STD) & (ncc < DIFFER_NCC)) | \
                  (textured_ref & (ncc < MATCH_NCC) & off_light) | \
                  (~textured_ref & (s_cur >= NEW_TEXTURE_X * s_ref + NEW_TEXTURE_PLUS))
        shows_scene = np.where(textured_ref, matches, ~differs) & ~off_light
        arrived = self._arrivals(shows_scene, cur, m_cur, s_cur, t, ref_serial)
        flat_share = float((flat & arrived).mean())
        self.last = {}
        if prev is None or prev.shape != grey.shape or float((differs | flat).mean()) < CANDIDATE_MIN:
            return Occlusion(flat_share, 0.0)
        still = still_blocks(cur, prev.astype(np.float32))
        candidate = ((differs | flat) & still).astype(np.uint8)
        # one object: a block or two inside it that happen to correlate with the scene do not split it
        # (a block that clearly matches still shows the scene and stays out)
        candidate = cv2.morphologyEx(candidate, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) \
            .astype(bool) & ~matches & still
        n, labels, stats, _ = cv2.connectedComponentsWithStats(candidate.astype(np.uint8), connectivity=8)
        if n <= 1:
            return Occlusion(flat_share, 0.0)
        biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        patch = labels == biggest
        rim = cv2.dilate(patch.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        rest = ~rim & textured_ref
        rest_match = float(matches[rest].mean()) if rest.any() else 0.0
        abrupt = float(arrived[patch].mean())
        spread = self._spread(patch)
        self.last = {"patch": float(patch.mean()), "rest_match": rest_match, "arrived": abrupt,
                     "spread_s": spread}
        if rest_match < REST_MATCH or abrupt < ARRIVED_SHARE or spread > TOGETHER_S:
            return Occlusion(flat_share, 0.0)
        return Occlusion(flat_share, float(patch.mean()))

    def _spread(self, patch: np.ndarray) -> float:
        """Seconds between the 10th and the 90th percentile of when the patch's blocks stopped showing
        the scene (0 without that history)."""
        if self._away_since is None or self._away_since.shape != patch.shape:
            return 0.0
        since = self._away_since[patch]
        since = since[~np.isnan(since)]
        if since.size < 2:
            return 0.0
        lo, hi = np.percentile(since, [10, 90])
        return float(hi - lo)

    def _arrivals(self, shows_scene: np.ndarray, cur: np.ndarray, m_cur: np.ndarray, s_cur: np.ndarray,
                  t: float, ref_serial: int) -> np.ndarray:
        """Per block: it does not show the scene, and got there abruptly (see ARRIVAL_S)."""
        looks = self._looks
        while len(looks) >= 2 and looks[1].t <= t - ARRIVAL_S:
            looks.pop(0)  # keep the newest look at least ARRIVAL_S old, and the ones since
        past = looks[0] if looks and looks[0].grey.shape == cur.shape else None
        if past is None:
            changed = np.full(shows_scene.shape, self._assume)
        else:
            ncc = (_block_mean(cur * past.grey) - m_cur * past.mean) / ((s_cur + 1e-3) * (past.std + 1e-3))
            bright = np.abs(np.log((m_cur + 4.0) / (past.mean + 4.0))) >= np.log(ABRUPT_X)
            pattern = (s_cur >= TEXTURE_STD) & (past.std >= REF_TEXTURE_STD) & (ncc < DIFFER_NCC)
            lost = (past.std >= TEXTURE_STD) & (s_cur < 0.5 * past.std)
            gained = s_cur >= NEW_TEXTURE_X * past.std + NEW_TEXTURE_PLUS
            changed = bright | pattern | lost | gained
        looks.append(_Look(t, cur, m_cur, s_cur))
        fresh = self._away is None or self._away.shape != shows_scene.shape or ref_serial != self._serial
        if fresh:
            # a new reference: what already differs from it began when is unknown (not a cover's
            # arrival), unless there is no history at all
            first = self._away is None
            self._serial = ref_serial
            self._away = ~shows_scene
            self._abrupt = self._away & (changed if first else False)
            self._away_since = np.where(self._away, t, np.nan)
            self._shown_since = np.where(self._away, np.nan, t)
            return self._abrupt.copy()
        assert self._abrupt is not None and self._away_since is not None and self._shown_since is not None
        assert self._away is not None
        away = ~shows_scene
        new = away & ~self._away
        self._away_since = np.where(new, t, self._away_since)
        self._abrupt = np.where(new, changed, self._abrupt)
        # a cover sliding in: its block may change fully only a moment after it stopped matching
        ramp = away & (t - self._away_since <= ARRIVAL_S)
        self._abrupt = self._abrupt | (ramp & changed)
        self._shown_since = np.where(shows_scene & np.isnan(self._shown_since), t, self._shown_since)
        self._shown_since = np.where(away, np.nan, self._shown_since)
        # a block forgets its arrival only once it has shown the scene again for ARRIVAL_S (a cover's
        # block that happens to correlate with the scene for a frame stays part of the cover)
        back = shows_scene & (t - self._shown_since >= ARRIVAL_S)
        self._away = (self._away & ~back) | away
        self._abrupt = self._abrupt & self._away
        return self._abrupt.copy()


def measure_occlusion(grey: np.ndarray, prev: np.ndarray | None, ref: np.ndarray) -> Occlusion:
    """One frame on its own (no history: every block that does not show the scene arrived now)."""
    return OcclusionMeter(assume_arrived=True).measure(grey, prev, ref, 0.0)
