"""End-to-end latency: from the video moment an obstruction comes to rest to its work order in the feed.

The demo setup as real processes: ``gridwatch hub`` (SQLite) and ``gridwatch edge`` for node edge-01,
whose cameras read labelled clips in turn: the demo clip (scripts/make_demo_clip.py: a landslide
slides onto a village road and comes to rest at the labelled ``start_s``) and, when it has been
generated into data/bench/evalset (``python -m models.evalset.generate data/bench/evalset --quick``),
the evaluation set's obstruction clips (landslides, blockages, flooding in different scenes, light
and weather). Files loop, so each camera raises its events again each lap. A console client holds
GET /api/v1/feed open and notes when each ``work_order.created`` arrives.

Per event: latency = (onset video time - rest video time) + (feed arrival - onset wall time).
The first term is how long the detector needed to be sure, in video seconds (the edge plays files
at real time, so video seconds are wall seconds); the second is edge -> outbox -> hub -> work order
-> feed. The onset's video time and wall time come from the stored alert (``video_time_s``,
``raised_at``); the arrival time from the console. The rest time is the label's ``start_s`` of the
latest labelled obstruction before the onset in that lap (onsets with none are listed apart as
unmatched). Incident grouping of neighbouring cameras is turned off
(``hub.incident_group_window_s: 0``) so each camera's event gets its own work order: grouping
would hide all but the first camera of a group, and what is measured here is detection and
delivery, not grouping policy.

    .venv/bin/python bench/e2e_latency.py            # 20 cameras, until >= 20 events (2-5 min)
    .venv/bin/python bench/e2e_latency.py --quick    # 4 cameras (~2 min, fewer events)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml
from sqlalchemy import select

from bench._common import DATA, ROOT, command_line, machine, percentile, print_table, write_result
from central.db import Database
from central.tables import AlertRow
from gridwatch.config import load_town
from tests.support.hub import HubProcess, make_token

NODE = "edge-01"
OBSTRUCTIONS = ("landslide", "road_blockage", "flooding")


def demo_clip() -> tuple[Path, dict[str, Any]]:
    clip = DATA / "demo_clip.mp4"
    if not clip.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "make_demo_clip.py"), str(clip)], check=True,
                       cwd=ROOT, stderr=subprocess.DEVNULL)
    return clip, json.loads(clip.with_suffix(".json").read_text(encoding="utf-8"))


def evalset_clips(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Obstruction clips of a generated evaluation set (``python -m models.evalset.generate``)."""
    index = folder / "index.json"
    if not index.exists():
        return []
    out = []
    for clip in json.loads(index.read_text(encoding="utf-8"))["clips"]:
        labels = json.loads((folder / clip["labels"]).read_text(encoding="utf-8"))
        if any(e["kind"] in OBSTRUCTIONS for e in labels["events"]):
            out.append((folder / clip["video"], labels))
    return out


def write_town(path: Path, clips: list[tuple[Path, dict[str, Any]]], cameras: int) -> dict[str, int]:
    """Cameras 1..n of edge-01 read the clips in turn; returns camera id -> index of its clip."""
    town = load_town(ROOT / "configs" / "yongshan").model_dump(mode="json")
    assigned: dict[str, int] = {}
    for cam in town["cameras"]:
        if cam["node"] == NODE and len(assigned) < cameras:
            k = len(assigned) % len(clips)
            clip, labels = clips[k]
            rois = []
            for text in labels.get("rois", []):
                name, _, pts = text.partition("=")
                polygon = [[float(v) for v in p.split(",")] for p in pts.split()]
                rois.append({"name": name, "polygon": polygon})
            cam["streams"], cam["rois"] = {"main": str(clip), "sub": None}, rois
            assigned[cam["id"]] = k
        elif cam["node"] == NODE:
            cam["enabled"] = False
    town["hub"] = {**town["hub"], "incident_group_window_s": 0}
    path.write_text(yaml.safe_dump(town, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_town(path)
    return assigned


class FeedWatch:
    """A console: notes the arrival time of every work_order.created on the feed."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.created: dict[int, float] = {}  # work order id -> wall time (epoch s) it arrived
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        while not self._stop.is_set():
            try:
                with httpx.stream("GET", self.url + "/api/v1/feed", headers=headers, timeout=30) as r:
                    for line in r.iter_lines():
                        if self._stop.is_set():
                            return
                        if line.startswith("data: "):
                            ev = json.loads(line[6:])
                            if ev["type"] == "work_order.created":
                                self.created.setdefault(int(ev["data"]["id"]), time.time())
            except httpx.HTTPError:
                time.sleep(0.5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--cameras", type=int, default=None)
    ap.add_argument("--events", type=int, default=None, help="stop once this many events are measured")
    ap.add_argument("--max-s", type=float, default=None, help="give up after this long")
    ap.add_argument("--evalset", type=Path, default=DATA / "evalset",
                    help="generated evaluation set whose obstruction clips cameras also read (if present)")
    args = ap.parse_args()
    cameras = args.cameras or (4 if args.quick else 20)
    want = args.events or (4 if args.quick else 20)
    max_s = args.max_s or (150.0 if args.quick else 300.0)
    clips = [demo_clip(), *evalset_clips(args.evalset)]
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-e2e-"))
    town_path = tmp / "town.yaml"
    assigned = write_town(town_path, clips, cameras)
    ids = list(assigned)
    db_url = f"sqlite:///{tmp / 'hub.db'}"
    before = machine()
    desk = make_token(db_url, "dispatcher")
    edge_token = make_token(db_url, "edge", node=NODE)
    t0 = time.monotonic()
    with HubProcess(db_url=db_url, config=town_path) as hub:
        watch = FeedWatch(hub.url, desk)
        watch.start()
        edge_log = open(tmp / "edge.log", "wb")  # noqa: SIM115 - closed below
        edge = subprocess.Popen(
            [sys.executable, "-m", "gridwatch.cli", "edge", "--config", str(town_path), "--node", NODE,
             "--hub", hub.url, "--data-dir", str(tmp / "edge")],
            cwd=ROOT, env={**os.environ, "GRIDWATCH_TOKEN": edge_token, "PYTHONPATH": str(ROOT)},
            stdout=edge_log, stderr=subprocess.STDOUT)
        try:
            # some work orders may be for camera faults or false alarms: collect a few more than asked
            while time.monotonic() - t0 < max_s and len(watch.created) < want + max(2, want // 5):
                if edge.poll() is not None:
                    raise SystemExit(f"edge worker exited: {(tmp / 'edge.log').read_text()[-2000:]}")
                time.sleep(1.0)
            time.sleep(2.0)
        finally:
            edge.send_signal(signal.SIGTERM)
            try:
                edge.wait(30)
            except subprocess.TimeoutExpired:
                edge.kill()
            edge_log.close()
            watch.stop()
        db = Database(db_url)
        with db.read() as s:
            onsets = list(s.execute(select(AlertRow).where(AlertRow.phase == "onset",
                                                           AlertRow.work_order_id.is_not(None))).scalars())
        db.dispose()
    events, unmatched = [], []
    for a in onsets:
        arrived = watch.created.get(int(a.work_order_id or 0))
        if arrived is None or a.video_time_s is None:
            continue
        clip, labels = clips[assigned[a.camera_id]]
        lap = float(labels["duration_s"])
        # the labelled obstruction that came to rest last before the onset, in this lap of the file
        t = float(a.video_time_s)
        base = (t // lap) * lap
        rests = [(base + float(e["start_s"]), e["kind"]) for e in labels["events"]
                 if e["kind"] in OBSTRUCTIONS and base + float(e["start_s"]) <= t]
        if not rests:
            unmatched.append({"camera": a.camera_id, "kind": a.kind, "onset_video_s": round(t, 2)})
            continue
        rest, label_kind = max(rests)
        detect_s = t - rest
        raised = a.raised_at.timestamp() if isinstance(a.raised_at, datetime) else float(a.raised_at)
        deliver_s = arrived - raised
        events.append({"camera": a.camera_id, "clip": clip.name, "label_kind": label_kind, "kind": a.kind,
                       "rest_video_s": round(rest, 2), "onset_video_s": round(t, 2),
                       "detect_s": round(detect_s, 2), "deliver_s": round(deliver_s, 3),
                       "total_s": round(detect_s + deliver_s, 2)})
    totals = [e["total_s"] for e in events]
    res = {
        "machine": before, "command": command_line(), "cameras": ids,
        "clips": [str(c.relative_to(ROOT)) for c, _ in clips], "events": events, "n": len(events),
        "onsets_without_a_labelled_rest_before": unmatched,
        "onsets_with_work_orders": len(onsets), "work_orders_in_feed": len(watch.created),
        "median_s": percentile(totals, 50) if totals else None, "worst_s": max(totals) if totals else None,
        "median_detect_s": percentile([e["detect_s"] for e in events], 50) if events else None,
        "median_deliver_s": percentile([e["deliver_s"] for e in events], 50) if events else None,
        "worst_deliver_s": max((e["deliver_s"] for e in events), default=None),
        "elapsed_s": round(time.monotonic() - t0, 1), "machine_after": machine(),
    }
    path = write_result("e2e_latency", res)
    rows = [("events", "median total s", "worst total s", "median detect s", "median deliver s",
             "worst deliver s")]
    rows.append((str(len(events)), f"{res['median_s']}", f"{res['worst_s']}", f"{res['median_detect_s']}",
                 f"{res['median_deliver_s']}", f"{res['worst_deliver_s']}"))
    print_table(f"End-to-end: obstruction at rest -> work order in the feed ({len(ids)} cameras, "
                f"load {before['load_avg_1_5_15']})", rows)
    print(f"\n  results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
