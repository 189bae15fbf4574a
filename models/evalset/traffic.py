"""Vehicles and people that move through the scene: what a road detector must learn to ignore.

Each road user has a precomputed position per frame (so a car can slow down, stand for a while and
leave) and a sprite drawn at the size the perspective gives it. Lane reservations keep traffic from
driving through something that blocks its lane.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from models.evalset.geometry import CANVAS_H, CANVAS_W, AcrossLayout, Layout
from models.evalset.splits import LEGACY, Assets

REF_PPM = 40.0  # sprites are drawn at this many pixels per metre and scaled per frame


@dataclass
class Light:
    """An additive light source in canvas pixels (headlight, tail light, lamp)."""

    x: float
    y: float
    radius: float
    rgb: tuple[float, float, float]
    beam: tuple[float, float] | None = None  # direction of a headlight beam on the road, canvas px


@dataclass
class Reservation:
    """Lane ``b0..b1`` at road position ``a0..a1`` is not passable from ``t0`` to ``t1``."""

    b0: float
    b1: float
    a0: float
    a1: float
    t0: float
    t1: float


def _c(rgb, a: float = 1.0) -> tuple[float, float, float, float]:
    """An RGBA colour OpenCV accepts (plain floats)."""
    r, g, b = (float(v) for v in rgb)
    return r, g, b, a


def _shade(h: int) -> np.ndarray:
    return np.linspace(1.15, 0.75, h, dtype=np.float32)[:, None, None]


def vehicle_sprite(
    rng: np.random.Generator, view: str, kind: str, rgb: np.ndarray, assets: Assets = LEGACY
) -> tuple[np.ndarray, float, float]:
    """RGBA sprite at REF_PPM; returns (sprite, length_or_width_m, height_m); car sizes per split."""
    if kind == "lorry":
        length, width, height = rng.uniform(7, 10), 2.5, rng.uniform(3.0, 3.6)
    elif kind == "van":
        length, width, height = rng.uniform(4.8, 5.5), 2.0, rng.uniform(2.0, 2.4)
    else:
        length, width, height = (
            rng.uniform(*assets.car_length_m),
            rng.uniform(1.7, 1.9),
            rng.uniform(*assets.car_height_m),
        )
    body = rgb.astype(np.float32)
    glass = np.array([0.12, 0.15, 0.2], np.float32) * rng.uniform(0.8, 1.4)
    dark = np.array([0.05, 0.05, 0.05], np.float32)
    if view == "side":
        w_px, h_px = int(length * REF_PPM), int(height * REF_PPM)
        img = np.zeros((h_px, w_px, 4), np.float32)
        wheel_r = int(0.36 * REF_PPM)
        body_top = int(h_px * (0.45 if kind == "car" else 0.05))
        cv2.rectangle(img, (0, body_top), (w_px - 1, h_px - wheel_r), _c(body), -1)
        if kind == "car":
            c0, c1 = int(w_px * 0.22), int(w_px * 0.78)
            pts = np.array([[c0 - 10, body_top], [c0 + 18, 0], [c1 - 14, 0], [c1 + 10, body_top]], np.int32)
            cv2.fillPoly(img, [pts], _c(body))
            pts2 = np.array(
                [[c0 + 2, body_top - 2], [c0 + 22, 5], [c1 - 16, 5], [c1 + 2, body_top - 2]], np.int32
            )
            cv2.fillPoly(img, [pts2], _c(glass))
        else:
            cab = int(w_px * (0.25 if kind == "lorry" else 0.3))
            cv2.rectangle(
                img, (w_px - cab, body_top + 8), (w_px - 6, body_top + int(h_px * 0.35)), _c(glass), -1
            )
            if kind == "lorry":
                cv2.line(img, (w_px - cab - 4, body_top), (w_px - cab - 4, h_px - wheel_r), _c(body * 0.6), 3)
        for cx in (int(w_px * 0.17), int(w_px * 0.83)):
            cv2.circle(img, (cx, h_px - wheel_r), wheel_r, _c(dark), -1, cv2.LINE_AA)
            cv2.circle(img, (cx, h_px - wheel_r), wheel_r // 2, (0.4, 0.4, 0.42, 1.0), -1, cv2.LINE_AA)
        img[..., :3] *= _shade(h_px)
        return img, float(length), float(height)
    # front/rear view
    w_px, h_px = int(width * REF_PPM), int(height * REF_PPM)
    img = np.zeros((h_px, w_px, 4), np.float32)
    shoulder = int(h_px * (0.45 if kind == "car" else 0.1))
    cv2.rectangle(img, (0, shoulder), (w_px - 1, h_px - 6), _c(body), -1)
    inset = int(w_px * 0.12)
    top = 0 if kind != "car" else int(h_px * 0.05)
    cv2.rectangle(img, (inset, top), (w_px - inset, shoulder), _c(body), -1)
    cv2.rectangle(img, (inset + 4, top + 4), (w_px - inset - 4, shoulder - 2), _c(glass), -1)
    cv2.rectangle(img, (2, h_px - 8), (int(w_px * 0.18), h_px - 1), _c(dark), -1)
    cv2.rectangle(img, (w_px - int(w_px * 0.18), h_px - 8), (w_px - 3, h_px - 1), _c(dark), -1)
    cv2.rectangle(
        img,
        (int(w_px * 0.3), int(h_px * 0.72)),
        (int(w_px * 0.7), int(h_px * 0.82)),
        (0.85, 0.85, 0.8, 1.0),
        -1,
    )  # number plate
    img[..., :3] *= _shade(h_px)
    return img, float(width), float(height)


def person_sprite(rng: np.random.Generator, phase: float) -> np.ndarray:
    h_px, w_px = int(1.75 * REF_PPM), int(0.6 * REF_PPM)
    img = np.zeros((h_px, w_px, 4), np.float32)
    coat = rng.uniform(0.05, 0.6, 3).astype(np.float32)
    legs = np.full(3, rng.uniform(0.05, 0.3), np.float32)
    skin = np.array([0.75, 0.58, 0.45], np.float32) * rng.uniform(0.6, 1.1)
    cx = w_px // 2
    cv2.circle(img, (cx, int(0.08 * h_px)), int(0.07 * h_px), _c(skin), -1, cv2.LINE_AA)
    cv2.rectangle(
        img,
        (cx - int(0.2 * REF_PPM), int(0.16 * h_px)),
        (cx + int(0.2 * REF_PPM), int(0.55 * h_px)),
        _c(coat),
        -1,
    )
    swing = int(0.15 * REF_PPM * np.sin(phase))
    for s in (swing, -swing):
        cv2.line(img, (cx, int(0.55 * h_px)), (cx + s, h_px - 2), _c(legs), int(0.12 * REF_PPM), cv2.LINE_AA)
    return img


@dataclass
class Mover:
    """One road user with a position (a, b) for every frame, NaN when out of the scene."""

    sprite: np.ndarray | list[np.ndarray]
    a: np.ndarray
    b: np.ndarray
    direction: int
    person: bool
    headlights: bool = True
    bottom_b_offset: float = 0.0
    tags: list[str] = field(default_factory=list)


def _trajectory(
    n: int,
    fps: float,
    t_enter: float,
    a_start: float,
    a_end: float,
    speed: float,
    stop: tuple[float, float] | None,
) -> np.ndarray:
    """Positions per frame: constant speed, or brake to a stop at ``stop[0]`` for ``stop[1]`` seconds."""
    out = np.full(n, np.nan, np.float32)
    sign = 1.0 if a_end > a_start else -1.0
    pos, v, waited = a_start, speed, 0.0
    decel = 3.0
    dt = 1.0 / fps
    i0 = int(np.ceil(t_enter * fps))
    state = "drive"
    for i in range(max(i0, 0), n):
        out[i] = pos
        if state == "drive" and stop is not None and sign * (stop[0] - pos) <= v * v / (2 * decel) + 0.01:
            state = "brake"
        if state == "brake":
            v = max(0.0, v - decel * dt)
            if v == 0.0:
                state = "wait"
        elif state == "wait":
            waited += dt
            if waited >= stop[1]:  # type: ignore[index]
                state = "go"
        elif state == "go":
            v = min(speed, v + 2.0 * dt)
        pos += sign * v * dt
        if sign * (pos - a_end) > 0:
            break
    return out


def schedule(
    rng: np.random.Generator,
    layout: Layout,
    duration: float,
    fps: float,
    per_min: float,
    people_per_min: float,
    stops: list[tuple[float, float]],
    reservations: list[Reservation],
    assets: Assets = LEGACY,
) -> list[Mover]:
    """Random traffic for a clip. ``stops`` are (time, seconds): a car arriving then stops that long."""
    n = round(duration * fps)
    view = "side" if isinstance(layout, AcrossLayout) else "end"
    a0, a1 = layout.a_range
    if isinstance(layout, AcrossLayout):
        a0, a1 = a0 - 12, a1 + 12
    else:
        a0, a1 = 3.0, min(layout.a_range[1], 140.0)
    w = layout.width_m
    lanes = [(w * 0.27, 1), (w * 0.73, -1)]
    movers: list[Mover] = []
    t = float(rng.uniform(0, 4))
    arrivals: list[tuple[float, float | None]] = []
    while per_min > 0 and t < duration:
        arrivals.append((t, None))
        t += float(rng.exponential(60.0 / per_min)) + 2.5
    for t_stop, wait in stops:
        arrivals.append((t_stop, wait))
    palette = list(assets.vehicle_palette)
    for t_enter, wait in sorted(arrivals, key=lambda x: x[0]):
        lane_b, direction = lanes[int(rng.integers(0, 2))]
        kind = str(rng.choice(["car", "car", "car", "van", "lorry"], p=[0.3, 0.3, 0.2, 0.12, 0.08]))
        if wait is not None:
            kind = "car" if rng.random() < 0.7 else "van"
        rgb = np.array(palette[int(rng.integers(0, len(palette)))], np.float32) * rng.uniform(0.85, 1.1)
        if view == "end":
            # moving away shows the rear, coming closer the front
            direction = 1 if lane_b < w / 2 else -1
        sprite, _, _ = vehicle_sprite(rng, view, kind, rgb, assets)
        speed = float(rng.uniform(6, 14))
        start, end = (a0, a1) if direction > 0 else (a1, a0)
        if view == "end" and direction < 0:
            t_enter -= 0.0
        stop = None
        if wait is not None:
            mid = float(rng.uniform(0.35, 0.65))
            stop = (a0 + mid * (a1 - a0) if view == "side" else float(rng.uniform(12, 30)), wait)
            # rewind the entry so that the stop happens at the asked time
            dist = abs(stop[0] - start)
            t_enter = max(0.0, t_enter - dist / speed)
        traj = _trajectory(n, fps, t_enter, start, end, speed, stop)
        if _crosses_reservation(traj, lane_b, fps, reservations):
            continue
        if stop is not None:
            i_stop = np.nanargmin(np.abs(traj - stop[0]))
            reservations.append(
                Reservation(
                    lane_b - 1.0,
                    lane_b + 1.0,
                    stop[0] - 8,
                    stop[0] + 8,
                    i_stop / fps - 3,
                    i_stop / fps + wait + 4,
                )
            )
        movers.append(
            Mover(
                sprite=sprite,
                a=traj,
                b=np.full(n, lane_b, np.float32),
                direction=direction,
                person=False,
                headlights=True,
                tags=["stopping"] if stop else [],
            )
        )
    t = float(rng.uniform(0, 8))
    while people_per_min > 0 and t < duration:
        speed = float(rng.uniform(1.0, 1.6))
        frames = [
            person_sprite(np.random.default_rng(int(rng.integers(1 << 30))), ph)
            for ph in np.linspace(0, 2 * np.pi, 8, endpoint=False)
        ]
        traj_b = np.full(n, np.nan, np.float32)
        a_cross = float(rng.uniform(a0 + 5, a1 - 5)) if view == "side" else float(rng.uniform(10, 35))
        b_start, b_end = (-1.5, w + 1.5) if rng.random() < 0.5 else (w + 1.5, -1.5)
        i0 = int(t * fps)
        steps = int((w + 3) / speed * fps)
        for k in range(steps):
            if i0 + k < n:
                traj_b[i0 + k] = b_start + (b_end - b_start) * k / steps
        movers.append(
            Mover(
                sprite=frames,
                a=np.where(np.isnan(traj_b), np.nan, a_cross).astype(np.float32),
                b=traj_b,
                direction=1,
                person=True,
                headlights=False,
            )
        )
        t += float(rng.exponential(60.0 / people_per_min)) + 3.0
    return movers


def _crosses_reservation(traj: np.ndarray, lane_b: float, fps: float, res: list[Reservation]) -> bool:
    for r in res:
        if not (r.b0 <= lane_b <= r.b1):
            continue
        inside = (traj >= r.a0) & (traj <= r.a1)
        idx = np.nonzero(inside)[0]
        if len(idx) and (idx[-1] / fps >= r.t0) and (idx[0] / fps <= r.t1):
            return True
    return False


def draw_movers(
    img: np.ndarray, layout: Layout, movers: list[Mover], i: int, lights: list[Light], want_lights: bool
) -> None:
    """Composite road users of frame ``i`` far to near, collecting their lights."""
    visible = [m for m in movers if not (np.isnan(m.a[i]) or np.isnan(m.b[i]))]
    if isinstance(layout, AcrossLayout):
        visible.sort(key=lambda m: m.b[i])
    else:
        visible.sort(key=lambda m: -m.a[i])
    for m in visible:
        a, b = float(m.a[i]), float(m.b[i])
        scale = layout.scale(a) / REF_PPM
        sprite = m.sprite[(i // 2) % len(m.sprite)] if isinstance(m.sprite, list) else m.sprite
        if isinstance(layout, AcrossLayout) and not m.person and m.direction < 0:
            sprite = sprite[:, ::-1]
        h, w = sprite.shape[:2]
        sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
        if sw > CANVAS_W * 2 or sh > CANVAS_H * 2:
            continue
        if isinstance(layout, AcrossLayout) and not m.person:
            # side view: the sprite spans its length along the road, standing on the lane's near side
            x_c, y_b = layout.to_screen(a, b + 0.9)
        else:
            x_c, y_b = layout.to_screen(a, b)
        x0, y0 = round(x_c - sw / 2), round(y_b - sh)
        spr = cv2.resize(sprite, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        _shadow(img, x_c, y_b, sw, sh)
        blit(img, spr, x0, y0)
        if want_lights and m.headlights:
            _vehicle_lights(layout, m, a, b, x0, y0, sw, sh, lights)


def _shadow(img: np.ndarray, x_c: float, y_b: float, sw: int, sh: int) -> None:
    ax, ay = max(1, int(sw * 0.55)), max(1, int(sh * 0.1))
    x0, x1 = int(x_c - ax), int(x_c + ax)
    y0, y1 = int(y_b - ay), int(y_b + ay)
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, CANVAS_W), min(y1, CANVAS_H)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    yy, xx = np.mgrid[cy0:cy1, cx0:cx1].astype(np.float32)
    d = ((xx - x_c) / ax) ** 2 + ((yy - y_b) / ay) ** 2
    a = np.clip(1 - d, 0, 1) * 0.45
    img[cy0:cy1, cx0:cx1] *= (1 - a)[..., None]


def _vehicle_lights(
    layout: Layout, m: Mover, a: float, b: float, x0: int, y0: int, sw: int, sh: int, lights: list[Light]
) -> None:
    r = max(1.5, sw * 0.06)
    if isinstance(layout, AcrossLayout):
        front_x = x0 + sw if m.direction > 0 else x0
        back_x = x0 if m.direction > 0 else x0 + sw
        y = y0 + sh * 0.6
        lights.append(Light(front_x, y, r * 1.5, (1.0, 0.95, 0.8), beam=(m.direction * sw * 1.6, sh * 0.35)))
        lights.append(Light(back_x, y, r, (0.9, 0.1, 0.05)))
        return
    y = y0 + sh * 0.72
    if m.direction < 0:  # coming towards the camera: white headlights pointing at it
        for fx in (0.15, 0.85):
            lights.append(Light(x0 + sw * fx, y, r * 2.0, (1.0, 0.97, 0.85)))
        lights.append(Light(x0 + sw * 0.5, y0 + sh * 1.1, r * 2, (0.5, 0.48, 0.42), beam=(0.0, sh * 0.8)))
    else:
        for fx in (0.12, 0.88):
            lights.append(Light(x0 + sw * fx, y, r, (0.9, 0.08, 0.04)))
        lights.append(Light(x0 + sw * 0.5, y0 - sh * 0.2, r * 2.5, (0.45, 0.42, 0.35), beam=(0.0, -sh * 1.2)))


def blit(img: np.ndarray, rgba: np.ndarray, x0: int, y0: int) -> None:
    """Alpha-composite an RGBA float patch onto the canvas at (x0, y0), clipped to the canvas."""
    h, w = rgba.shape[:2]
    H, W = img.shape[:2]
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x0 + w, W), min(y0 + h, H)
    if cx1 <= cx0 or cy1 <= cy0:
        return
    patch = rgba[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    a = patch[..., 3:4]
    region = img[cy0:cy1, cx0:cx1]
    region *= 1 - a
    region += patch[..., :3] * a


def mover_box(layout: Layout, m: Mover, i: int) -> tuple[int, int, int, int] | None:
    """Canvas rectangle a vehicle covers at frame ``i`` (same geometry as ``draw_movers``)."""
    if np.isnan(m.a[i]) or np.isnan(m.b[i]):
        return None
    a, b = float(m.a[i]), float(m.b[i])
    scale = layout.scale(a) / REF_PPM
    sprite = m.sprite[0] if isinstance(m.sprite, list) else m.sprite
    h, w = sprite.shape[:2]
    sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
    if isinstance(layout, AcrossLayout) and not m.person:
        x_c, y_b = layout.to_screen(a, b + 0.9)
    else:
        x_c, y_b = layout.to_screen(a, b)
    x0, y0 = round(x_c - sw / 2), round(y_b - sh)
    return x0, y0, x0 + sw, y0 + sh


def stalled_vehicle(
    rng: np.random.Generator,
    layout: Layout,
    duration: float,
    fps: float,
    t_stop: float,
    leave_at: float | None,
    assets: Assets = LEGACY,
    vehicle: str | None = None,
) -> tuple[Mover, float, float | None]:
    """A vehicle that drives in and stops on the road; returns (mover, stopped_at, moving_again_at).

    ``vehicle`` None: a van or lorry wide enough to block (the legacy stalled vehicle); else that kind.
    """
    n = round(duration * fps)
    view = "side" if isinstance(layout, AcrossLayout) else "end"
    w = layout.width_m
    if vehicle is None:
        kind = "lorry" if rng.random() < 0.7 else "van"
        if kind == "van" and 2.0 / w < 0.3:  # a van on a wide road would block less than 30 % of it
            kind = "lorry"
    else:
        kind = vehicle
    pal = assets.stalled_palette
    rgb = np.array(pal[int(rng.integers(0, len(pal)))], np.float32)
    sprite, _, _ = vehicle_sprite(rng, view, kind, rgb, assets)
    lane_b = w * (0.3 if rng.random() < 0.5 else 0.7)
    if view == "side":
        a0, a1 = layout.a_range
        direction = 1 if rng.random() < 0.5 else -1
        start, end = (a0 - 12, a1 + 12) if direction > 0 else (a1 + 12, a0 - 12)
        a_stop = float(rng.uniform(a0 + 0.3 * (a1 - a0), a0 + 0.7 * (a1 - a0)))
    else:
        direction = 1 if lane_b < w / 2 else -1
        start, end = (3.0, 140.0) if direction > 0 else (140.0, 3.0)
        a_stop = float(rng.uniform(10, 18))
    speed = float(rng.uniform(7, 11))
    brake = speed * speed / (2 * 3.0)
    # enter so that braking ends at t_stop
    t_enter = t_stop - (abs(a_stop - start) - brake) / speed - speed / 3.0
    wait = (leave_at - t_stop) if leave_at is not None else duration + 10
    traj = _trajectory(n, fps, t_enter, start, end, speed, (a_stop, wait))
    valid = ~np.isnan(traj[1:]) & ~np.isnan(traj[:-1])
    moving = np.abs(np.nan_to_num(np.diff(traj))) > 1e-6
    still = np.nonzero(~moving & valid)[0]
    stopped_at = float(still[0] / fps)
    again = None
    if leave_at is not None:
        after = np.nonzero(moving[still[0] :])[0]
        again = float((still[0] + after[0]) / fps) if len(after) else None
    mover = Mover(
        sprite=sprite,
        a=traj,
        b=np.full(n, lane_b, np.float32),
        direction=direction,
        person=False,
        headlights=True,
    )
    return mover, stopped_at, again
