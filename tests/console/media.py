"""Pictures for the console tests: real footage when the machine has it, otherwise a drawn scene.

Alerts carry a JPEG snapshot and an MP4 clip, as an edge worker sends them; the console shows both.
"""

from __future__ import annotations

import base64
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
from PIL import Image, ImageDraw

from gridwatch.wire import Alert, CameraHealth, Heartbeat, NodeHealth

FOOTAGE = Path(__file__).resolve().parents[2] / "data" / "footage" / "vtest.avi"


def frames(count: int = 20) -> list[Image.Image]:
    """``count`` consecutive frames of the real footage, or a drawn road scene when it is missing."""
    if FOOTAGE.is_file():
        out: list[Image.Image] = []
        with av.open(str(FOOTAGE)) as container:
            for frame in container.decode(video=0):
                out.append(frame.to_image())
                if len(out) >= count:
                    break
        return out
    pictures = []
    for i in range(count):
        img = Image.new("RGB", (640, 480), (70, 110, 60))
        draw = ImageDraw.Draw(img)
        draw.polygon([(200, 200), (440, 200), (640, 480), (0, 480)], fill=(90, 90, 95))
        draw.ellipse((260 + 4 * i, 300, 380 + 4 * i, 380), fill=(120, 80, 40))
        pictures.append(img)
    return pictures


def jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def mp4(pictures: list[Image.Image], fps: int = 10) -> bytes:
    """H.264 in MP4, playable by a browser's <video>."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=fps)
        stream.width, stream.height = pictures[0].width // 2 * 2, pictures[0].height // 2 * 2
        stream.pix_fmt = "yuv420p"
        for img in pictures:
            for packet in stream.encode(av.VideoFrame.from_image(img)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()


def alert(node: str, camera: str, kind: str, snapshot: bytes | None = None, clip: bytes | None = None,
          score: float = 0.9) -> Alert:
    now = datetime.now(UTC)
    return Alert(id=uuid.uuid4().hex, event_id=uuid.uuid4().hex, node_id=node, camera_id=camera, kind=kind,
                 phase="onset", seq=1, raised_at=now, started_at=now - timedelta(seconds=4), score=score,
                 bbox=(0.2, 0.5, 0.7, 0.9), region="road",
                 snapshot_jpeg=base64.b64encode(snapshot).decode() if snapshot else None,
                 clip_mp4=base64.b64encode(clip).decode() if clip else None)


def heartbeat(node: str, cameras: list[CameraHealth]) -> Heartbeat:
    return Heartbeat(id=uuid.uuid4().hex, node_id=node, sent_at=datetime.now(UTC),
                     node=NodeHealth(cpu_percent=35.0, memory_percent=40.0, disk_free_bytes=50_000_000_000,
                                     outbox_depth=0, outbox_bytes=0, software_version="test"),
                     cameras=cameras)
