"""A real edge worker process whose pipeline is scripted, for delivery tests.

Everything is the production worker (readers on a real video file, analysis loop, clips, outbox,
delivery, heartbeats, signals) except the detection: each camera's pipeline raises ``--alerts``
event onsets in total (a few per analysed frame), so a test can make 100 alerts in seconds. With
``--gate FILE`` the cameras raise nothing until that file exists, so a test can first let the worker
start and then, say, fill its disk.

    python -m tests.edge.edge_proc --config TOWN --node edge-01 --hub URL --token-file F \
        --data-dir D --alerts 100 [--gate FILE]
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

from edge.events import Event
from edge.frames import Frame
from edge.worker import EdgeWorker, token_reader
from gridwatch.config import load_town
from gridwatch.config.schema import Camera
from gridwatch.logs import setup_logging
from gridwatch.wire import EventKind, Phase, stable_id

log = logging.getLogger("tests.edge.edge_proc")


class ScriptedPipeline:
    """Raises ``total`` onsets, ``per_frame`` per analysed frame, then stays quiet."""

    def __init__(self, camera_id: str, total: int, per_frame: int = 5, gate: Path | None = None) -> None:
        self.camera_id, self.total, self.per_frame, self.gate = camera_id, total, per_frame, gate
        self.raised = 0

    def process(self, frame: Frame) -> list[Event]:
        out: list[Event] = []
        if self.gate is not None and not self.gate.exists():
            return out
        while self.raised < self.total and len(out) < self.per_frame:
            self.raised += 1
            eid = stable_id("scripted", self.camera_id, frame.t, self.raised)
            out.append(Event(kind=EventKind.ROAD_BLOCKAGE, phase=Phase.ONSET, event_id=eid, t=frame.t,
                             start_s=frame.t, score=0.9, bbox=(0.1, 0.5, 0.6, 0.9), region="road",
                             snapshot_jpeg=None, details={"n": self.raised}))
            if self.raised == self.total:
                log.info("scripted: camera %s raised all %d", self.camera_id, self.total)
        return out

    def tick(self, t: float, wall: datetime) -> list[Event]:
        return []

    @property
    def faults(self) -> list[EventKind]:
        return []

    @property
    def scores(self) -> dict[str, float]:
        return {"raised": float(self.raised)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--node", default="edge-01")
    p.add_argument("--hub", required=True)
    p.add_argument("--token-file", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--alerts", type=int, required=True, help="onsets in total, spread over the cameras")
    p.add_argument("--gate", type=Path, default=None, help="raise nothing until this file exists")
    args = p.parse_args()
    setup_logging()
    town = load_town(args.config)
    cams = town.cameras_of(args.node)
    share = {c.id: args.alerts // len(cams) + (1 if i < args.alerts % len(cams) else 0)
             for i, c in enumerate(cams)}

    def factory(cam: Camera) -> ScriptedPipeline:
        return ScriptedPipeline(cam.id, share[cam.id], gate=args.gate)

    worker = EdgeWorker(town, args.node, args.hub, token_reader(args.token_file), args.data_dir,
                        pipeline_factory=factory)
    done = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda *_: done.set())
    worker.start()
    done.wait()
    worker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
