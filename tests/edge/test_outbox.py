"""The outbox: order per camera, sequence numbers that survive restarts, dead letters, disk policy;
delivery against a real HTTP server on 127.0.0.1 for each kind of hub answer."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.delivery import Delivery, classify
from edge.outbox import Outbox
from gridwatch.wire import Alert, CameraHealth, CameraStatus, Heartbeat, NodeHealth, Phase, stable_id
from tests.edge.recording_hub import RecordingHub

JPEG = base64.b64encode(b"\xff\xd8\xff" + b"x" * 2000 + b"\xff\xd9").decode()


def alert_builder(camera: str, phase: Phase = Phase.ONSET, n: int = 0, snapshot: bool = False):
    def build(seq: int) -> Alert:
        now = datetime.now(UTC)
        return Alert(id=stable_id("n", camera, n, phase, seq), event_id=stable_id("ev", camera, n),
                     node_id="edge-01", camera_id=camera, kind="road_blockage", phase=phase, seq=seq,
                     raised_at=now, started_at=now, score=0.5, snapshot_jpeg=JPEG if snapshot else None)
    return build


def heartbeat(n: int) -> Heartbeat:
    node = NodeHealth(cpu_percent=1, memory_percent=1, disk_free_bytes=1, outbox_depth=0, outbox_bytes=0,
                      software_version="t")
    cam = CameraHealth(camera_id="cam-001", status=CameraStatus.ONLINE, fps_in=1, fps_analysed=1,
                       decode_errors=0)
    return Heartbeat(id=stable_id("hb", n), node_id="edge-01", sent_at=datetime.now(UTC), node=node,
                     cameras=[cam])


def test_heads_keep_order_per_camera(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    a1 = box.enqueue_alert("cam-a", alert_builder("cam-a", n=1))
    b1 = box.enqueue_alert("cam-b", alert_builder("cam-b", n=1))
    a2 = box.enqueue_alert("cam-a", alert_builder("cam-a", Phase.CLEAR, n=1))
    assert [a1.seq, a2.seq, b1.seq] == [0, 1, 0]
    heads = box.heads()
    assert [m.msg_id for m in heads] == [a1.id, b1.id]  # a2 waits for a1
    box.ack(heads[0].id)
    assert [m.msg_id for m in box.heads()] == [b1.id, a2.id]
    assert box.heads(skip_lanes=frozenset({"cam-b"}))[0].msg_id == a2.id


def test_a_held_onset_blocks_its_lane_until_completed_with_its_clip(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    onset = box.enqueue_alert("cam-a", alert_builder("cam-a", n=1), held=True)
    clear = box.enqueue_alert("cam-a", alert_builder("cam-a", Phase.CLEAR, n=1))
    other = box.enqueue_alert("cam-b", alert_builder("cam-b", n=1))
    assert [m.msg_id for m in box.heads()] == [other.id]  # cam-a waits for its onset's clip
    box.complete(onset.id, onset.model_copy(update={"details": {"clip": "attached"}}))
    heads = box.heads()
    assert [m.msg_id for m in heads] == [onset.id, other.id]
    assert b'"attached"' in heads[0].body
    box.ack(heads[0].id)
    assert box.heads()[0].msg_id == clear.id


def test_onsets_held_when_the_worker_died_are_released_on_restart(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    onset = box.enqueue_alert("cam-a", alert_builder("cam-a", n=1), held=True)
    assert box.heads() == []
    box.close()  # as good as a SIGKILL for what is on disk
    box = Outbox(tmp_path / "o.db", 10_000_000)
    assert [m.msg_id for m in box.heads()] == [onset.id]


def test_sequence_and_messages_survive_reopening(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    first = box.enqueue_alert("cam-a", alert_builder("cam-a", n=1))
    box.close()
    box = Outbox(tmp_path / "o.db", 10_000_000)
    second = box.enqueue_alert("cam-a", alert_builder("cam-a", n=2))
    assert second.seq == first.seq + 1
    assert box.pending_ids() == [first.id, second.id]


def test_only_the_newest_heartbeat_is_kept(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    for n in range(5):
        box.enqueue_heartbeat(heartbeat(n))
    assert box.pending_ids("heartbeat") == [stable_id("hb", 4)]
    stats = box.stats()
    assert stats.superseded == 4 and stats.dropped == 0


def test_disk_cap_drops_updates_before_onsets_and_clears(tmp_path: Path) -> None:
    probe = Outbox(tmp_path / "probe.db", 10_000_000)
    size = probe.enqueue_alert("c", alert_builder("c", snapshot=True)) and probe.stats().bytes
    box = Outbox(tmp_path / "o.db", max_bytes=size * 6 + size // 2)  # room for six
    onset = box.enqueue_alert("cam-a", alert_builder("cam-a", Phase.ONSET, 1, True))
    updates = [box.enqueue_alert("cam-a", alert_builder("cam-a", Phase.UPDATE, 1 + i, True))
               for i in range(4)]
    clear = box.enqueue_alert("cam-a", alert_builder("cam-a", Phase.CLEAR, 1, True))
    assert box.stats().dropped == 0
    later = [box.enqueue_alert("cam-b", alert_builder("cam-b", Phase.ONSET, i, True)) for i in range(3)]
    kept = box.pending_ids()
    stats = box.stats()
    assert stats.dropped == 3 and stats.bytes <= box.max_bytes
    assert onset.id in kept and clear.id in kept and all(a.id in kept for a in later)
    assert [u.id for u in updates if u.id in kept] == [updates[3].id]  # the oldest updates went first


def test_disk_cap_drops_oldest_alerts_when_no_update_is_left(tmp_path: Path) -> None:
    probe = Outbox(tmp_path / "probe.db", 10_000_000)
    probe.enqueue_alert("c", alert_builder("c", snapshot=True))
    size = probe.stats().bytes
    box = Outbox(tmp_path / "o.db", max_bytes=size * 3 + size // 2)
    alerts = [box.enqueue_alert("cam-a", alert_builder("cam-a", Phase.ONSET, i, True)) for i in range(5)]
    assert box.pending_ids() == [a.id for a in alerts[2:]]
    assert box.stats().dropped == 2


@pytest.mark.parametrize(("status", "verdict"), [(200, "ok"), (201, "ok"), (202, "ok"), (401, "retry"),
                                                 (403, "dead"), (404, "dead"), (413, "dead"), (422, "dead"),
                                                 (429, "retry"), (500, "retry"), (503, "retry")])
def test_classify(status: int, verdict: str) -> None:
    assert classify(status) == verdict


def wait_for(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def test_delivery_dead_letters_permanent_refusals_and_keeps_other_lanes_going(
        tmp_path: Path, recording_hub: RecordingHub) -> None:
    recording_hub.fail = {"cam-bad": 422, "cam-busy": 503}
    box = Outbox(tmp_path / "o.db", 10_000_000)
    bad = box.enqueue_alert("cam-bad", alert_builder("cam-bad", n=1))
    bad_next = box.enqueue_alert("cam-bad", alert_builder("cam-bad", Phase.CLEAR, n=1))
    busy = box.enqueue_alert("cam-busy", alert_builder("cam-busy", n=1))
    good = [box.enqueue_alert("cam-ok", alert_builder("cam-ok", n=i)) for i in range(3)]
    box.enqueue_heartbeat(heartbeat(1))
    delivery = Delivery(box, recording_hub.url, lambda: recording_hub.token, backoff_cap_s=1.0)
    delivery.start()
    try:
        wait_for(lambda: box.pending_ids() == [busy.id] and not box.pending_ids("heartbeat"))
        dead = box.dead_letters()
        assert [d["msg_id"] for d in dead] == [bad.id, bad_next.id]
        assert dead[0]["status"] == 422 and "refused cam-bad" in str(dead[0]["reason"])
        assert [recording_hub.alerts[a.id]["seq"] for a in good] == [0, 1, 2]
        assert recording_hub.heartbeats
        recording_hub.fail = {}            # the hub recovers: the 503'd message goes through
        wait_for(lambda: busy.id in recording_hub.alerts)
        wait_for(lambda: box.stats().depth == 0)
    finally:
        delivery.stop()


def test_delivery_retries_a_bad_token_and_keeps_the_messages(tmp_path: Path,
                                                             recording_hub: RecordingHub) -> None:
    box = Outbox(tmp_path / "o.db", 10_000_000)
    alert = box.enqueue_alert("cam-a", alert_builder("cam-a", n=1))
    token = {"value": "wrong"}
    delivery = Delivery(box, recording_hub.url, lambda: token["value"], backoff_cap_s=0.5)
    delivery.start()
    try:
        wait_for(lambda: delivery.failures >= 2)
        assert box.pending_ids() == [alert.id] and not box.dead_letters()
        token["value"] = recording_hub.token
        wait_for(lambda: alert.id in recording_hub.alerts)
    finally:
        delivery.stop()
