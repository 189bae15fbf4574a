"""The edge side of the camera registry without a hub: checking a document, secrets, and a running
worker swapping cameras in place (an unchanged camera keeps its very pipeline object)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.config_sync import ConfigRefused, ConfigStore, build
from edge.secrets import Secrets, SecretsError, env_name
from edge.worker import EdgeWorker
from gridwatch.config import load_town
from gridwatch.config.schema import Camera, Town
from gridwatch.config.writer import section_documents
from tests.edge.onset_pipeline import OnsetPipeline
from tests.edge.procs import wait_for
from tests.edge.recording_hub import RecordingHub
from tests.edge.town import NODE, write_town

SECRET = "Zq-7!pass@word"


def document(town: Town, revision: int, cameras: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    docs = section_documents(town)
    cams = cameras if cameras is not None else [c for c in docs["cameras"] if c["node"] == NODE]
    return {"node_id": NODE, "revision": revision, "cameras": cams, "detection": docs.get("detection", {})}


def test_secrets_fill_the_placeholder_and_never_show_in_errors(tmp_path: Path) -> None:
    cam = Camera.model_validate(
        {
            "id": "c1",
            "name": "n",
            "village": "v",
            "grid": "g",
            "node": NODE,
            "lat": 0,
            "lon": 0,
            "streams": {
                "main": "rtsp://viewer:{password}@10.0.0.1/ch1",
                "sub": "rtsp://viewer:{password}@10.0.0.1/ch2",
                "password_ref": "village.cams",
            },
        }
    )
    file = tmp_path / "secrets.yaml"
    file.write_text(f"village.cams: '{SECRET}'\n", encoding="utf-8")
    filled = Secrets.load(file).resolve(cam)
    assert filled.streams.main == "rtsp://viewer:Zq-7%21pass%40word@10.0.0.1/ch1"
    assert filled.streams.sub is not None and filled.streams.sub.endswith("@10.0.0.1/ch2")
    assert Secrets({}, environ={env_name("village.cams"): "x"}).resolve(cam).streams.main == (
        "rtsp://viewer:x@10.0.0.1/ch1"
    )
    with pytest.raises(SecretsError) as err:
        Secrets({}, environ={}).resolve(cam)
    assert "secret 'village.cams' is not set" in str(err.value) and "$GRIDWATCH_SECRET_VILLAGE_CAMS" in str(
        err.value
    )
    # a town file may not hold a password at all
    with pytest.raises(ValueError, match="the URL holds a password"):
        Camera.model_validate(cam.model_dump() | {"streams": {"main": f"rtsp://viewer:{SECRET}@10.0.0.1/"}})
    with pytest.raises(ValueError, match="password_ref names no secret"):
        Camera.model_validate(cam.model_dump() | {"streams": {"main": "rtsp://viewer:{password}@10.0.0.1/"}})


def test_documents_the_node_cannot_run_are_refused_with_a_reason(tmp_path: Path, video_file: Path) -> None:
    town_file = tmp_path / "town.yaml"
    write_town(town_file, [str(video_file)], "http://127.0.0.1:1")
    town = load_town(town_file)
    ok = build(document(town, 3), town, NODE, Secrets({}, environ={}))
    assert ok.revision == 3 and [c.id for c in ok.town.cameras_of(NODE)] == [
        c.id for c in town.cameras_of(NODE)
    ]
    doc = document(town, 4)
    doc["cameras"][0]["streams"] = {"main": "rtsp://u:{password}@10.0.0.1/", "password_ref": "gone"}
    with pytest.raises(ConfigRefused, match="revision 4: camera cam-001: secret 'gone' is not set"):
        build(doc, town, NODE, Secrets({}, environ={}))
    doc = document(town, 5)
    doc["cameras"][0]["zoom"] = 2  # a newer hub's field this edge does not know
    with pytest.raises(ConfigRefused, match=r"does not fit this edge's software \(zoom: Extra inputs"):
        build(doc, town, NODE, Secrets({}, environ={}))
    doc = document(town, 6) | {"detection": {"analysis_fps": 5.0}}
    with pytest.raises(ConfigRefused, match="restart the edge to apply it"):
        build(doc, town, NODE, Secrets({}, environ={}), running=town.detection)
    with pytest.raises(ConfigRefused, match="for node 'edge-02'"):
        build(document(town, 7) | {"node_id": "edge-02"}, town, NODE, Secrets({}, environ={}))
    store = ConfigStore(tmp_path)
    assert store.load() is None
    store.save(ok.doc)
    assert store.load() == ok.doc


def test_running_worker_swaps_cameras_in_place(
    tmp_path: Path, video_file: Path, recording_hub: RecordingHub
) -> None:
    town_file = tmp_path / "town.yaml"
    a, b, c = write_town(
        town_file,
        [str(video_file)] * 3,
        recording_hub.url,
        detection={"analysis_fps": 4.0},
        edge={"heartbeat_every_s": 0.3},
    )
    town = load_town(town_file)
    built: list[OnsetPipeline] = []

    def factory(cam: Camera) -> OnsetPipeline:  # its identity stands for its learned scene
        built.append(OnsetPipeline(cam.id, at=None))
        return built[-1]

    worker = EdgeWorker(
        town,
        NODE,
        recording_hub.url,
        lambda: recording_hub.token,
        tmp_path / "edge",
        pipeline_factory=factory,
    )
    worker.start()
    try:
        first = {u.camera.id: u.pipeline for u in worker.units}
        wait_for(lambda: first[a].frames >= 2, 30, "camera a analysed")
        docs = [d for d in section_documents(town)["cameras"] if d["node"] == NODE and d["id"] in (a, b, c)]
        by_id = {d["id"]: d for d in docs}
        by_id[b] = by_id[b] | {"rois": [{"name": "road", "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}]}
        new = dict(by_id[c]) | {"id": "cam-new", "enabled": True}
        cfg = build(document(town, 9, [by_id[a], by_id[b], new]), town, NODE, Secrets({}, environ={}))
        worker.request_config(cfg)
        wait_for(lambda: worker.config_version == 9, 30, "the worker to run revision 9")
        now = {u.camera.id: u.pipeline for u in worker.units}
        assert list(now) == [a, b, "cam-new"]
        assert now[a] is first[a]  # unchanged: the same pipeline, its scene kept
        cams = {u.camera.id: u.camera for u in worker.units}
        assert now[b] is not first[b] and [r.name for r in cams[b].rois] == ["road"]
        assert c not in now
        wait_for(lambda: now["cam-new"].frames >= 2, 30, "the added camera analysed")  # type: ignore[attr-defined]
        assert first[a].frames > 2  # type: ignore[attr-defined]

        def last_beat() -> dict[str, Any] | None:
            beats = [h for h in recording_hub.heartbeats if h["config_version"] == 9]
            return beats[-1] if beats else None

        beat = wait_for(last_beat, 30, "a heartbeat with config_version 9")
        assert sorted(x["camera_id"] for x in beat["cameras"]) == sorted([a, b, "cam-new"])
        assert beat["config_error"] is None
    finally:
        worker.stop()


def test_a_parking_region_from_the_registry_reaches_the_detector() -> None:
    """A parking region (drawn in the console, pushed by the registry) is where vehicles may stop: it
    stays road (debris there still counts) and is handed to the stopped-vehicle rule."""
    from edge.regions import build_masks
    from gridwatch.config.schema import Roi

    road = Roi(name="road", polygon=[(0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)])
    parking = Roi(name="parking", polygon=[(0.0, 0.5), (0.3, 0.5), (0.3, 1.0), (0.0, 1.0)])
    masks = build_masks([road, parking], (100, 100))
    assert masks.parking is not None
    assert masks.parking[90, 10] and not masks.parking[90, 80]
    assert masks.road[90, 80] and not masks.ignore[90, 10]
