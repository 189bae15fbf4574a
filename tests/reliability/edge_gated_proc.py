"""The scripted edge worker of tests.edge.edge_proc, but its cameras raise their alerts only once a
gate file exists, so a test can first let the worker start and then fill its disk.

    python -m tests.reliability.edge_gated_proc --config TOWN --node edge-01 --hub URL \
        --token-file F --data-dir D --alerts 40 --gate FILE
"""

from __future__ import annotations

import argparse
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
from gridwatch.wire import EventKind
from tests.edge.edge_proc import ScriptedPipeline


class GatedPipeline(ScriptedPipeline):
    def __init__(self, camera_id: str, total: int, gate: Path) -> None:
        super().__init__(camera_id, total)
        self.gate = gate

    def process(self, frame: Frame) -> list[Event]:
        return super().process(frame) if self.gate.exists() else []

    def tick(self, t: float, wall: datetime) -> list[Event]:
        return []

    @property
    def faults(self) -> list[EventKind]:
        return []


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--node", default="edge-01")
    p.add_argument("--hub", required=True)
    p.add_argument("--token-file", type=Path, required=True)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--alerts", type=int, required=True)
    p.add_argument("--gate", type=Path, required=True)
    args = p.parse_args()
    setup_logging()
    town = load_town(args.config)
    cams = town.cameras_of(args.node)
    share = {c.id: args.alerts // len(cams) + (1 if i < args.alerts % len(cams) else 0)
             for i, c in enumerate(cams)}

    def factory(cam: Camera) -> GatedPipeline:
        return GatedPipeline(cam.id, share[cam.id], args.gate)

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
