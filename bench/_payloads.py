"""The hub benchmarks' load: towns with provisioned node tokens, and real wire bodies built ahead.

Bodies are serialised before the clock starts, so the load client spends nothing on JSON while it
measures. Shared by ``bench/hub_cost.py``, ``hub_ab.py``, ``hub_burst_timeline.py`` and
``heartbeat_record.py``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from bench._common import ROOT
from bench._load import RawClient, Request
from gridwatch.config import load_town
from gridwatch.wire import stable_id

SAMPLE = ROOT / "configs" / "yongshan"
KINDS = ("landslide", "road_blockage", "flooding")


def write_town(path: Path, nodes: int | None, per_node: int = 20,
               heartbeat_every_s: float | None = None) -> dict[str, str]:
    """The sample town with node tokens provisioned by hash; with ``nodes``, a generated county of
    ``nodes`` x ``per_node`` cameras (villages and grids reused from the sample); with
    ``heartbeat_every_s``, its edge settings' heartbeat interval. Returns node -> token."""
    town = load_town(SAMPLE).model_dump(mode="json")
    if heartbeat_every_s is not None:
        town.setdefault("edge", {})["heartbeat_every_s"] = heartbeat_every_s
    if nodes is not None:
        base = town["cameras"]
        town["nodes"] = [{"id": f"n-{i:04d}", "name": f"bench node {i}"} for i in range(1, nodes + 1)]
        cams = []
        for i in range(nodes * per_node):
            src = dict(base[i % len(base)])
            src.update(id=f"c-{i + 1:05d}", node=f"n-{i // per_node + 1:04d}", name=f"{src['name']} #{i}")
            cams.append(src)
        town["cameras"] = cams
    tokens: dict[str, str] = {}
    for node in town["nodes"]:
        tokens[node["id"]] = token = "bench-" + secrets.token_urlsafe(24)
        node["token_sha256"] = hashlib.sha256(token.encode()).hexdigest()
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    path.write_text(yaml.dump(town, Dumper=dumper, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_town(path)
    return tokens


def snapshot_jpeg() -> bytes:
    """A 320x180 JPEG with some texture (~19 kB), like the edge's snapshots."""
    from PIL import Image

    rnd = random.Random(7)
    img = Image.new("RGB", (320, 180), (90, 110, 80))
    px = img.load()
    for y in range(0, 180, 2):
        for x in range(0, 320, 2):
            v = rnd.randrange(60, 160)
            px[x, y] = (v, v + 10, v - 20)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


@dataclass
class Payloads:
    """Pre-serialised request bodies and their tokens, so the client spends nothing on JSON."""

    town: Path
    tokens: dict[str, str]
    cameras: list[tuple[str, str]] = field(default_factory=list)  # (camera, node)
    snap_b64: str = ""
    run: str = field(default_factory=lambda: secrets.token_hex(4))
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        town = load_town(self.town)
        self.cameras = [(c.id, c.node) for c in town.cameras if c.enabled]
        self.by_node: dict[str, list[str]] = {}
        for cam, node in self.cameras:
            self.by_node.setdefault(node, []).append(cam)
        self.snap_b64 = base64.b64encode(snapshot_jpeg()).decode()

    def alert(self, i: int | None = None) -> tuple[bytes, dict[str, str], str]:
        n = next(self.counter) if i is None else i
        cam, node = self.cameras[n % len(self.cameras)]
        kind = KINDS[(n // len(self.cameras)) % len(KINDS)]
        now = datetime.now(UTC).isoformat()
        event = f"{self.run}-{n}"
        body = {
            "id": stable_id(cam, kind, event, "onset", 1), "event_id": stable_id(cam, kind, event),
            "node_id": node, "camera_id": cam, "kind": kind, "phase": "onset", "seq": n + 1,
            "raised_at": now, "started_at": now, "video_time_s": 12.5, "score": 0.83,
            "bbox": [0.2, 0.5, 0.6, 0.9], "region": "road", "details": {"width_share": 0.55},
            "snapshot_jpeg": self.snap_b64,
        }
        return json.dumps(body).encode(), self._headers(node), body["id"]

    def heartbeat(self, node: str) -> tuple[bytes, dict[str, str]]:
        now = datetime.now(UTC).isoformat()
        n = next(self.counter)
        cams = [{"camera_id": c, "status": "online", "fps_in": 25.0, "fps_analysed": 1.0, "decode_errors": 0,
                 "reconnects": 0, "last_frame_at": now, "faults": [],
                 "scores": {"brightness": 112.4, "sharpness": 0.031, "changed": 0.004}}
                for c in self.by_node[node]]
        body = {"id": stable_id(node, "hb", self.run, n), "node_id": node, "sent_at": now,
                "node": {"cpu_percent": 61.0, "memory_percent": 40.2, "disk_free_bytes": 80_000_000_000,
                         "outbox_depth": 0, "outbox_bytes": 0, "outbox_dropped": 0,
                         "software_version": "0.1.0"},
                "cameras": cams, "live_url": None}
        return json.dumps(body).encode(), self._headers(node)

    def _headers(self, node: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[node]}", "Content-Type": "application/json"}


def alert_request(p: Payloads, url: str) -> Callable[[int], Request]:
    def make(_: int) -> Request:
        body, headers, _id = p.alert()

        async def send(client: RawClient) -> int:
            return await client.post("/api/v1/alerts", body, headers)

        return send

    return make


def heartbeat_request(p: Payloads, url: str) -> Callable[[int], Request]:
    nodes = sorted(p.by_node)

    def make(i: int) -> Request:
        body, headers = p.heartbeat(nodes[i % len(nodes)])

        async def send(client: RawClient) -> int:
            return await client.post("/api/v1/heartbeats", body, headers)

        return send

    return make
