"""ONVIF on the edge against a local device stand-in that answers the real SOAP calls (and checks the
WS-Security digest): profiles give the stream and snapshot URIs, the clock offset is read, a wrong
password is a clear sentence, PTZ home is sent only where the camera's config turns it on, a camera
without ONVIF is left alone; with analysis processes too, the readers use the ONVIF stream URL and a
camera_moved onset sends the camera home."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from edge import onvif
from edge.onvif_watch import OnvifWatch
from edge.secrets import Secrets
from edge.worker import EdgeWorker
from gridwatch.config.schema import Camera, CameraOnvif, Town
from tests.edge.procs import wait_for
from tests.support.onvif_device import OnvifDevice, digest
from tests.support.rtsp import RtspServer

PASSWORD = "Onv-1f pass@word"
MAIN = "rtsp://10.1.2.3:554/Streaming/Channels/101"
SUB = "rtsp://10.1.2.3:554/Streaming/Channels/102"


@pytest.fixture
def device() -> Iterator[OnvifDevice]:
    with OnvifDevice("admin", PASSWORD, {"main": MAIN, "sub": SUB}, clock_offset_s=300) as dev:
        yield dev


def _cfg(dev: OnvifDevice, **kw: Any) -> CameraOnvif:
    return CameraOnvif(host="127.0.0.1", port=dev.port, user="admin", password_ref="cam-onvif", **kw)


def _camera(cid: str, onvif_cfg: CameraOnvif | None) -> Camera:
    return Camera(id=cid, name=cid, village="v", grid="g", node="edge-01", lat=29.0, lon=117.0,
                  streams={"main": "rtsp://127.0.0.1:1/configured"}, onvif=onvif_cfg)


# -- pure parts ----------------------------------------------------------------------------------


def test_credentials_go_into_a_device_uri_and_never_out() -> None:
    assert onvif.with_credentials(MAIN, "admin", "p@ss:w") == \
        "rtsp://admin:p%40ss%3Aw@10.1.2.3:554/Streaming/Channels/101"
    assert onvif.with_credentials("rtsp://u:x@h/a", "admin", "pw") == "rtsp://u:x@h/a"  # has one already
    assert onvif.without_credentials("rtsp://admin:secret@10.1.2.3:554/x") == "rtsp://10.1.2.3:554/x"
    assert onvif.without_credentials(None) is None


def test_clock_offset_takes_the_middle_of_the_exchange() -> None:
    sent = datetime(2026, 12, 4, 8, 0, 0, tzinfo=UTC)
    assert onvif.clock_offset(sent + timedelta(seconds=91), sent, sent + timedelta(seconds=2)) == 90.0


def test_the_onvif_section_refuses_unknown_keys_and_says_what_each_field_is() -> None:
    with pytest.raises(ValidationError, match="password"):
        CameraOnvif.model_validate({"host": "h", "user": "u", "password": "plain"})
    assert all(f.description for f in CameraOnvif.model_fields.values())
    assert CameraOnvif(host="h", user="u").ptz_home_on_moved is False  # off unless a maintainer says so


# -- the SOAP calls against the stand-in -----------------------------------------------------------


def test_the_stand_in_checks_the_digest() -> None:
    # the standard's example token (WS-Security UsernameToken Profile 1.0, 3.1)
    assert digest("d36e316282959a9ed4c89851497a717f", "2003-12-15T14:43:07Z", "taadtaadpstcsm") != ""
    with OnvifDevice("admin", "pw", {"main": MAIN}) as dev:
        status, text = dev.answer(b"<not-soap")
        assert status == 400 and "WellFormed" in text


def test_profiles_streams_snapshot_and_clock_are_read(device: OnvifDevice) -> None:
    got = asyncio.run(onvif.read_device(_cfg(device), PASSWORD))
    assert (got.main_profile, got.main_uri, got.sub_uri) == ("main", MAIN, SUB)
    assert got.snapshot_uri == f"{device.base}/onvif/snapshot?profile=main"
    assert got.clock_offset_s is not None and 298 <= got.clock_offset_s <= 302
    ops = device.ops()
    assert {"GetProfiles", "GetStreamUri", "GetSnapshotUri", "GetSystemDateAndTime"} <= set(ops)
    assert all(ok for op, ok in device.calls if op != "GetSystemDateAndTime")  # logged in every time
    assert "GotoHomePosition" not in ops


def test_a_wrong_password_is_a_clear_sentence(device: OnvifDevice) -> None:
    with pytest.raises(onvif.OnvifFailure) as err:
        asyncio.run(onvif.read_device(_cfg(device), "not the password"))
    text = str(err.value)
    assert "refused the login of user 'admin'" in text and "cam-onvif" in text
    assert "not the password" not in text


def test_an_unreachable_device_is_said_so() -> None:
    with OnvifDevice("a", "b", {"main": MAIN}) as dev:
        port = dev.port
    cfg = CameraOnvif(host="127.0.0.1", port=port, user="admin", timeout_s=5)
    with pytest.raises(onvif.OnvifFailure, match=r"unreachable|did not answer"):
        asyncio.run(onvif.read_clock(cfg, None))


def test_a_profile_the_device_does_not_have_is_named(device: OnvifDevice) -> None:
    with pytest.raises(onvif.OnvifFailure, match="main_profile 'third' is not one of"):
        asyncio.run(onvif.read_device(_cfg(device, main_profile="third"), PASSWORD))


# -- the watch: several cameras at once, off the analysis loop --------------------------------------


def _watch(cameras: list[Camera], password: str = PASSWORD) -> tuple[OnvifWatch, list[str]]:
    told: list[str] = []
    watch = OnvifWatch(Secrets({"cam-onvif": password}), on_streams=told.append, poll_s=0.05)
    watch.set_cameras(cameras)
    watch.start()
    return watch, told


def test_the_watch_reports_streams_clock_and_errors_per_camera(device: OnvifDevice) -> None:
    with OnvifDevice("admin", "other", {"main": MAIN}) as wrong:
        cams = [_camera("cam-a", _cfg(device)), _camera("cam-b", _cfg(wrong)), _camera("cam-c", None)]
        watch, told = _watch(cams)
        try:
            a = wait_for(lambda: (h := watch.health("cam-a")) and h.checked_at and h, 30, "cam-a's profiles")
            b = wait_for(lambda: (h := watch.health("cam-b")) and h.checked_at and h, 30, "cam-b's error")
        finally:
            watch.stop()
    assert a.ok and a.error is None and a.clock_wrong and a.clock_offset_s is not None
    assert (a.main_uri, a.sub_uri) == (MAIN, SUB)
    assert told == ["cam-a"]  # the worker is told to swap cam-a's reader, no one else's
    # the reader opens the sub stream with the ONVIF account in it; reported URIs have none
    assert watch.stream_url(cams[0]) == SUB.replace("rtsp://", "rtsp://admin:Onv-1f%20pass%40word@")
    assert not b.ok and "wrong user or password" in (b.error or "")
    assert watch.stream_url(cams[1]) is None  # the configured streams stay
    assert watch.health("cam-c") is None and watch.stream_url(cams[2]) is None  # no ONVIF: nothing
    assert PASSWORD not in a.model_dump_json() + b.model_dump_json()


def test_a_missing_secret_is_named_without_asking_the_device(device: OnvifDevice) -> None:
    watch = OnvifWatch(Secrets({}, environ={}), poll_s=0.05)
    watch.set_cameras([_camera("cam-a", _cfg(device))])
    watch.start()
    try:
        h = wait_for(lambda: (x := watch.health("cam-a")) and x.checked_at and x, 30, "the error")
    finally:
        watch.stop()
    assert "ONVIF secret 'cam-onvif' is not set" in (h.error or "")
    assert device.calls == []


@pytest.mark.parametrize("enabled", [False, True])
def test_ptz_home_is_sent_only_where_it_is_turned_on(device: OnvifDevice, enabled: bool) -> None:
    cam = _camera("cam-a", _cfg(device, ptz_home_on_moved=enabled))
    watch, _ = _watch([cam])
    try:
        wait_for(lambda: (h := watch.health("cam-a")) and h.checked_at, 30, "the first read")
        assert watch.camera_moved("cam-a") is enabled
        if enabled:
            h = wait_for(lambda: (x := watch.health("cam-a")) and x.ptz_moves and x, 30, "the move")
            assert h.ptz_moves_total == 1 and h.ptz_moves[0].ok and h.ptz_home_on_moved
        else:
            # what a move would have been made of by now: a read of the clock after the first check
            watch.set_cameras([cam.model_copy(update={"onvif": _cfg(device, ptz_home_on_moved=False,
                                                                    check_every_s=5)})])
            wait_for(lambda: device.ops().count("GetSystemDateAndTime") >= 2, 30, "a second exchange")
            assert watch.health("cam-a").ptz_moves == []  # type: ignore[union-attr]
    finally:
        watch.stop()
    assert ("GotoHomePosition" in device.ops()) is enabled


def test_the_worker_hands_camera_moved_to_the_watch_and_reports_it(tmp_path: Any,
                                                                   device: OnvifDevice) -> None:
    """The analysis loop only queues the move; the heartbeat carries the camera's ONVIF state."""
    from edge.events import Event
    from gridwatch.config import load_town
    from gridwatch.wire import EventKind, Phase
    from tests.edge.town import write_town

    town_file = tmp_path / "town.yaml"
    (cid,) = write_town(town_file, ["rtsp://127.0.0.1:1/none"], "http://127.0.0.1:1")
    town = load_town(town_file)
    cams = [c.model_copy(update={"onvif": _cfg(device, ptz_home_on_moved=True)}) if c.id == cid else c
            for c in town.cameras]
    town = town.model_copy(update={"cameras": cams})
    moved = threading.Event()

    class Moved:
        faults: ClassVar[list[EventKind]] = []
        scores: ClassVar[dict[str, float]] = {}

        def process(self, frame: Any) -> list[Event]:
            return []

        def tick(self, t: float, wall: datetime) -> list[Event]:
            if moved.is_set():
                return []
            moved.set()
            return [Event(kind=EventKind.CAMERA_MOVED, phase=Phase.ONSET, event_id="moved-0001", t=t,
                          start_s=t, score=0.9, bbox=None, region=None, snapshot_jpeg=None, details={})]

    watch = OnvifWatch(Secrets({"cam-onvif": PASSWORD}), poll_s=0.05)
    worker = EdgeWorker(town, "edge-01", "http://127.0.0.1:1", lambda: None, tmp_path / "edge",
                        pipeline_factory=lambda c: Moved(), onvif=watch)
    worker.start()
    watch.start()
    try:
        wait_for(lambda: "GotoHomePosition" in device.ops(), 30, "the home move")
        beat = wait_for(lambda: (b := worker.heartbeat()) and b.cameras[0].onvif
                        and b.cameras[0].onvif.ptz_moves and b, 30, "the move in a heartbeat")
    finally:
        watch.stop()
        worker.stop()
    state = beat.cameras[0].onvif
    assert state.ptz_moves_total == 1 and state.clock_wrong


# -- with analysis processes: the watch runs in the worker's process, the readers in the children ----


def _onvif_town(tmp_path: Any, dev: OnvifDevice, **onvif_kw: Any) -> Town:
    """One camera whose configured stream is dead, with an ONVIF section, run by one analysis process."""
    from gridwatch.config import load_town
    from tests.edge.town import write_town

    town_file = tmp_path / "town.yaml"
    (cid,) = write_town(town_file, ["rtsp://127.0.0.1:1/dead"], "http://127.0.0.1:1",
                        edge={"analysis_processes": 1, "reconnect_max_s": 1.0})
    town = load_town(town_file)
    cams = [c.model_copy(update={"onvif": _cfg(dev, **onvif_kw)}) if c.id == cid else c for c in town.cameras]
    return town.model_copy(update={"cameras": cams})


def _procs_worker(tmp_path: Any, town: Town, factory: Any) -> tuple[EdgeWorker, OnvifWatch]:
    watch = OnvifWatch(Secrets({"cam-onvif": PASSWORD}), poll_s=0.05)
    worker = EdgeWorker(town, "edge-01", "http://127.0.0.1:1", lambda: None, tmp_path / "edge",
                        pipeline_factory=factory, onvif=watch)
    assert worker.procs is not None and worker.group is None  # the processes mode
    return worker, watch


@pytest.mark.slow
@pytest.mark.rtsp
def test_analysis_processes_read_the_stream_url_onvif_found(tmp_path: Any, rtsp_server: RtspServer) -> None:
    """The ONVIF profiles are read after the process started: its reader moves to their URL; a process
    started again after a crash opens that URL from the start."""
    from tests.edge.onset_pipeline import onset_pipeline

    with OnvifDevice("admin", PASSWORD, {"main": rtsp_server.url}) as dev:
        worker, watch = _procs_worker(tmp_path, _onvif_town(tmp_path, dev), onset_pipeline)
        procs = worker.procs
        assert procs is not None

        def analysed() -> float:
            return sum(h.scores.get("frames", 0.0) for h in procs.health(datetime.now(UTC)))

        worker.start()
        watch.start()
        try:
            wait_for(lambda: analysed() >= 5, 180, "frames analysed from the ONVIF stream URL")
            beat = worker.heartbeat()
            (first,) = procs.pids()
            assert first is not None
            os.kill(first, signal.SIGKILL)
            wait_for(lambda: procs.pids()[0] not in (None, first), 60, "a new analysis process")
            wait_for(lambda: sum(int(c["analysed"]) for c in procs.counters()) >= 5, 180,
                     "frames analysed in the new process")
        finally:
            watch.stop()
            worker.stop()
    (cam,) = beat.cameras
    assert cam.onvif is not None and cam.onvif.ok and cam.onvif.main_uri == rtsp_server.url
    assert list(procs.stream_urls.values()) == [
        rtsp_server.url.replace("rtsp://", "rtsp://admin:Onv-1f%20pass%40word@")]


@pytest.mark.slow
def test_analysis_processes_send_a_moved_camera_home(tmp_path: Any, device: OnvifDevice) -> None:
    """The camera_moved onset comes back from the analysis process to the outbox here; the watch
    sends the camera home and the heartbeat reports the move."""
    from tests.edge.onset_pipeline import moved_pipeline

    worker, watch = _procs_worker(tmp_path, _onvif_town(tmp_path, device, ptz_home_on_moved=True),
                                  moved_pipeline)
    worker.start()
    watch.start()
    try:
        wait_for(lambda: "GotoHomePosition" in device.ops(), 180, "the home move")
        beat = wait_for(lambda: (b := worker.heartbeat()) and b.cameras[0].onvif
                        and b.cameras[0].onvif.ptz_moves and b, 30, "the move in a heartbeat")
    finally:
        watch.stop()
        worker.stop()
    state = beat.cameras[0].onvif
    assert state.ptz_moves_total == 1 and state.ptz_moves[0].ok
