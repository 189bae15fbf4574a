"""The dev and test splits: disjoint asset families, every weak class in both, labels by the rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from models.evalset.check import label_problems
from models.evalset.generate import DEFAULT_FOOTAGE
from models.evalset.render import ClipRenderer
from models.evalset.split_catalog import split_catalog
from models.evalset.splits import DEV, LEGACY, STOPPED_VEHICLE_S, TEST, assets, overlaps
from models.evalset.textures import Textures


@pytest.fixture(scope="module")
def textures() -> dict[str, Textures]:
    return {"dev": Textures(DEV.textures), "test": Textures(TEST.textures)}


def test_dev_and_test_share_no_asset_family() -> None:
    assert overlaps(DEV, TEST) == []
    assert not DEV.real_footage and TEST.real_footage
    assert DEV.textures.startswith("procedural") and TEST.textures == "photographed"
    # the check itself finds a shared family
    assert "rock_tints" in overlaps(DEV, dataclasses.replace(TEST, rock_tints=dict(DEV.rock_tints)))
    assert "seeds" in overlaps(DEV, dataclasses.replace(TEST, seeds=(DEV.seeds[0],)))
    assert len(TEST.seeds) >= 3
    with pytest.raises(ValueError, match="unknown split"):
        assets("train")


def test_procedural_textures_are_not_the_photographs(textures: dict[str, Textures]) -> None:
    dev, photo = textures["dev"], textures["test"]
    for name in ("gravel", "grass", "brick"):
        a, b = dev.get(name), photo.get(name)
        assert 0.45 < float(a.mean()) < 0.55 and float(a.std()) > 0.1
        # same size, nothing in common: no correlation with the photograph
        assert abs(float(np.corrcoef(a.ravel(), b[: a.shape[0], : a.shape[1]].ravel())[0, 1])) < 0.1
    again = Textures(DEV.textures)
    assert again.gravel.tobytes() == dev.gravel.tobytes()


@pytest.mark.parametrize("split", ["dev", "test"])
def test_every_weak_class_is_in_both_splits(split: str) -> None:
    a = assets(split)
    specs = split_catalog(split, a.seeds[0])
    assert all(s.split == split for s in specs)
    assert 70 <= len(specs) <= 130
    assert sum(s.duration for s in specs) / 3600 >= 3.0
    tags = {t for s in specs for t in s.tags}
    assert {"stopped", "textured", "clear_mud", "wide", "turf", "clouds", "headlights", "stopping"} <= tags
    stopped = [s for s in specs if "stopped" in s.tags]
    assert len(stopped) >= 5 and {ev["vehicle"] for s in stopped for ev in s.events} >= {"car", "van"}
    occl = [f for s in specs for f in s.faults if f.params.get("what") in a.textured_occluders]
    assert len(occl) >= 4 and all(0.5 <= float(f.params["cover"]) <= 0.7 for f in occl)
    assert {f.params["tone"] for f in occl} == {"dark", "light"}
    wide_slides = [s for s in specs if s.scene == "wide" and any(e["kind"] == "landslide" for e in s.events)]
    assert {s.period for s in wide_slides} >= {"day", "dusk"}
    # stops shorter than the limit are negatives, and only those are
    for s in specs:
        if s.stops:
            assert not s.events and not s.faults
            assert all(w < STOPPED_VEHICLE_S for _, w in s.stops)
    assert any(w >= 40 for s in specs for _, w in s.stops)
    # the real footage is test-only
    assert any(s.scene.startswith("real") for s in specs) == (split == "test")
    # another seed of the grid is another set
    other = split_catalog(split, a.seeds[1])
    assert [s.seed for s in other] != [s.seed for s in specs]


@pytest.mark.parametrize("split", ["dev", "test"])
def test_quick_labels_follow_the_rules(split: str, textures: dict[str, Textures]) -> None:
    a = assets(split)
    specs = split_catalog(split, a.quick_seed, quick=True)
    assert 6 <= len(specs) <= 12
    assert sum(s.duration for s in specs) <= 900
    for spec in specs:
        lb = ClipRenderer(spec, textures[split], DEFAULT_FOOTAGE).label_json()
        assert label_problems(lb) == [], spec.name
        assert bool(lb["events"]) == bool(spec.events or spec.faults), spec.name
        if "stopped" in spec.tags:
            (ev,) = lb["events"]
            # labelled from the moment the vehicle has stood STOPPED_VEHICLE_S
            assert ev["kind"] == "road_blockage"
            assert ev["start_s"] >= spec.events[0]["t"] + STOPPED_VEHICLE_S - 5
            assert ev["start_s"] + 10 <= lb["duration_s"]
            # its stop is listed as label context from the moment it stopped (training data: a vehicle)
            stop = max(lb["stops"], key=lambda s: s["end_s"] or lb["duration_s"])
            assert abs(stop["start_s"] - (ev["start_s"] - STOPPED_VEHICLE_S)) <= 1.0
            assert stop["bbox"] is not None


def test_a_split_refuses_what_it_may_not_use(textures: dict[str, Textures]) -> None:
    spec = next(s for s in split_catalog("dev", DEV.quick_seed, quick=True) if s.scene != "real_raw")
    with pytest.raises(ValueError, match="needs textures"):
        ClipRenderer(spec, textures["test"], DEFAULT_FOOTAGE)
    with pytest.raises(ValueError, match="may not use the real footage"):
        ClipRenderer(dataclasses.replace(spec, scene="real"), textures["dev"], DEFAULT_FOOTAGE)
    with pytest.raises(ValueError, match="legacy"):
        split_catalog("legacy", 0)
    assert LEGACY.textures == "photographed"
