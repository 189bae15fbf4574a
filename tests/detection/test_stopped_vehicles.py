"""Stopped vehicles (issue 20, part 3): a vehicle standing on the carriageway longer than
``stopped_vehicle_s`` is a road_blockage with cause "vehicle", whatever its share of the width; shorter
stops, stops in a parking region and people standing together raise nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from edge.analyze import analyze_video
from gridwatch.config import DetectionSettings, load_town, parse_roi
from tests.detection import synth
from tests.detection.conftest import FAST, VTEST, VTEST_ROAD

#: A shorter limit than a town's 120 s default so the clips stay short; the logic is the same.
LIMIT_S = 40.0
SETTINGS = FAST.model_copy(update={"stopped_vehicle_s": LIMIT_S})
ROIS = [synth.ROAD_ROI, synth.SLOPE_ROI]


def _run(video: Path, rois: list[str], models, settings: DetectionSettings = SETTINGS):
    return analyze_video(video, [parse_roi(r) for r in rois], settings, models).records


@pytest.mark.parametrize("size,colour", [((44, 20), (200, 60, 30)), ((30, 10), (230, 230, 230)),
                                         ((50, 22), (35, 35, 35))], ids=["blue", "small_white", "black"])
@pytest.mark.parametrize("rois", [ROIS, []], ids=["rois", "no_roi"])
def test_vehicle_stopped_past_the_limit_is_a_vehicle_blockage(make_clip, models, size, colour, rois) -> None:
    at = 22.0
    video = make_clip(f"parked_{size[0]}_{colour[0]}",
                      synth.parked_car(at, 70.0, *size, colour=colour, lane_y=153), 115)
    records = _run(video, rois, models)
    assert [(r.kind, r.details.get("cause")) for r in records] == [("road_blockage", "vehicle")], records
    assert at + LIMIT_S <= records[0].start_s <= at + LIMIT_S + 10.0
    # narrower than the town's blockage width, or not: the vehicle rule does not ask
    assert records[0].end_s is not None, "cleared once it drove off"


def test_small_vehicle_under_the_blockage_width_is_raised(make_clip, models) -> None:
    small = synth.parked_car(22.0, 70.0, 30, 10, colour=(230, 230, 230), lane_y=153)
    video = make_clip("parked_30_230", small, 115)
    (rec,) = _run(video, ROIS, models)
    assert float(rec.details["width_share"]) < SETTINGS.blockage_min_width


def test_stop_under_the_limit_raises_nothing(make_clip, models) -> None:
    video = make_clip("parked_short", synth.parked_car(22.0, 30.0), 65)
    assert _run(video, ROIS, models) == []
    assert _run(video, [], models) == []


def test_vehicle_stopped_in_a_parking_region_raises_nothing(make_clip, models) -> None:
    video = make_clip("parked_44_200", synth.parked_car(22.0, 70.0, lane_y=153), 115)
    parking = "parking=0.35,0.58 0.75,0.58 0.75,0.8 0.35,0.8"
    assert _run(video, [*ROIS, parking], models) == []


def test_parking_region_is_accepted_in_config_and_per_camera_limit_applies(tmp_path) -> None:
    import yaml

    repo = Path(__file__).resolve().parents[2]
    town_dir = tmp_path / "town"
    shutil.copytree(repo / "configs" / "yongshan", town_dir)
    cams = yaml.safe_load((town_dir / "cameras.yaml").read_text())
    cam = cams[0]
    cam["rois"].append({"name": "parking", "polygon": [[0, 0.6], [0.2, 0.6], [0.2, 0.8], [0, 0.8]]})
    cam["detection"] = {"stopped_vehicle_s": 300}
    (town_dir / "cameras.yaml").write_text(yaml.safe_dump(cams, allow_unicode=True))
    town = load_town(town_dir)
    camera = town.camera(cam["id"])
    assert any(r.name == "parking" for r in camera.rois)
    assert town.detection_for(camera).stopped_vehicle_s == 300
    assert town.detection.stopped_vehicle_s == 120.0
    other = next(c for c in town.cameras if c.id != cam["id"])
    assert town.detection_for(other).stopped_vehicle_s == 120.0
    with pytest.raises(ValueError, match="unknown region"):
        parse_roi("parkng=0,0 1,0 1,1")


no_footage = pytest.mark.skipif(not VTEST.is_file(), reason="real footage not fetched")
no_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


@no_footage
@pytest.mark.parametrize("rois", [[VTEST_ROAD], []], ids=["road_roi", "no_roi"])
def test_people_standing_together_on_real_footage_are_not_vehicles(models, rois) -> None:
    # people stand together on the square for over 20 s: with a 20 s limit, still nothing
    settings = DetectionSettings(stopped_vehicle_s=20.0)
    assert _run(VTEST, rois, models, settings) == []


def _car_png(path: Path) -> str:
    import cv2

    w, h, body = 130, 70, (40, 40, 190)
    img = np.zeros((h, w, 4), np.uint8)
    cv2.rectangle(img, (0, int(h * 0.35)), (w - 1, int(h * 0.85)), (*body, 255), -1)
    cv2.rectangle(img, (int(w * 0.2), int(h * 0.05)), (int(w * 0.75), int(h * 0.4)), (*body, 255), -1)
    for x0, x1 in ((0.25, 0.45), (0.5, 0.7)):
        cv2.rectangle(img, (int(w * x0), int(h * 0.1)), (int(w * x1), int(h * 0.35)), (60, 50, 40, 255), -1)
    for cx in (int(w * 0.2), int(w * 0.8)):
        cv2.circle(img, (cx, int(h * 0.85)), int(h * 0.15), (20, 20, 20, 255), -1)
    cv2.imwrite(str(path), img)
    return str(path)


@no_footage
@no_ffmpeg
@pytest.mark.parametrize("stop_s,raised", [(45.0, True), (15.0, False)])
def test_car_stopping_on_real_footage(models, tmp_path, stop_s: float, raised: bool) -> None:
    at, x, y = 30.0, 430, 300
    xe = f"if(lt(t,{at}),{x}+({at}-t)*150,if(lt(t,{at + stop_s}),{x},{x}-(t-{at + stop_s})*150))"
    out = tmp_path / "car.mp4"
    car = _car_png(tmp_path / "car.png")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(VTEST), "-i", car,
                    "-filter_complex", f"[0:v][1:v]overlay=x='{xe}':y={y}:eval=frame",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", str(out)],
                   check=True, timeout=120)
    settings = DetectionSettings(stopped_vehicle_s=20.0)
    for rois in ([VTEST_ROAD], []):
        records = _run(out, rois, models, settings)
        if not raised:
            assert records == [], (rois, records)
            continue
        assert [(r.kind, r.details.get("cause")) for r in records] == [("road_blockage", "vehicle")], records
        assert at + 20.0 <= records[0].start_s <= at + 20.0 + 10.0
        x0, y0, x1, y1 = records[0].bbox
        assert x0 <= (x + 65) / 768 <= x1 and y0 <= (y + 35) / 576 <= y1


def test_a_thing_with_its_own_lights_in_dim_light_is_a_vehicle_whatever_it_reads_as() -> None:
    """At dusk and at night the block classifier may read a car's body as debris; its head or tail
    lights say what it is (rock, mud, water and trees give no light). Unlit, the same reading is not a
    vehicle; lit but gathered slowly (light sweeping over a spreading thing) is not one either."""
    from edge.obstruction_decide import is_vehicle
    from tests.detection.test_learned_decision import measures

    assert is_vehicle(measures(debris=0.7, obj=0.1, self_lit=True, gather_s=1.0))
    assert not is_vehicle(measures(debris=0.7, obj=0.1, self_lit=False, gather_s=1.0))
    assert not is_vehicle(measures(debris=0.7, obj=0.1, self_lit=True, gather_s=12.0))
    assert not is_vehicle(measures(debris=0.7, obj=0.1, self_lit=True, share=0.05))  # a lamp, a person
