"""The alert and heartbeat wire format, the one definition both the edge and the hub use.

An edge worker writes these objects into its outbox and posts them as JSON; the hub validates the
same models on intake. Changing a field here changes the protocol for both sides at once.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal, overload

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

#: Largest snapshot the hub accepts, after base64 decoding.
MAX_SNAPSHOT_BYTES = 1_000_000
#: Largest clip the hub accepts, after base64 decoding.
MAX_CLIP_BYTES = 8_000_000
#: Largest request body the hub reads at all (base64 inflates by 4/3, plus JSON around it).
MAX_BODY_BYTES = 12_500_000


class EventKind(StrEnum):
    """Everything an edge worker can raise: road obstructions first, then camera faults."""

    LANDSLIDE = "landslide"
    ROAD_BLOCKAGE = "road_blockage"
    FLOODING = "flooding"
    CAMERA_OFFLINE = "camera_offline"
    CAMERA_FROZEN = "camera_frozen"
    CAMERA_BLURRED = "camera_blurred"
    CAMERA_OCCLUDED = "camera_occluded"
    CAMERA_MOVED = "camera_moved"
    CAMERA_TOO_DARK = "camera_too_dark"
    CAMERA_OVEREXPOSED = "camera_overexposed"

    @property
    def is_camera_fault(self) -> bool:
        return self.value.startswith("camera_")


#: Road obstructions, in the order the edge checks them (a tuple: the order is kept wherever it is used).
OBSTRUCTION_KINDS = (EventKind.LANDSLIDE, EventKind.ROAD_BLOCKAGE, EventKind.FLOODING)
FAULT_KINDS = frozenset(k for k in EventKind if k.is_camera_fault)


class Phase(StrEnum):
    """Where an event is in its life: raised, still standing (throttled updates), or cleared."""

    ONSET = "onset"
    UPDATE = "update"
    CLEAR = "clear"


class CameraStatus(StrEnum):
    ONLINE = "online"
    DEGRADED = "degraded"
    OFFLINE = "offline"


@overload
def iso_time(value: datetime) -> str: ...
@overload
def iso_time(value: None) -> None: ...
@overload
def iso_time(value: datetime | None) -> str | None: ...
def iso_time(value: datetime | None) -> str | None:
    """A time as ISO 8601 text in UTC, None as None: the one way the hub writes times as text."""
    if value is None:
        return None
    return _aware(value).isoformat()


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone (use UTC, e.g. 2026-11-26T08:00:00Z)")
    return value.astimezone(UTC)


def _aware_opt(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


Unit = Annotated[float, Field(ge=0.0, le=1.0)]
#: Padded base64 text (RFC 4648), as the schema declares the media fields.
BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _b64_chars(limit: int) -> int:
    """Longest base64 text whose bytes fit ``limit`` (four characters per three bytes)."""
    return 4 * (limit // 3)


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Alert(_Wire):
    """One step of one event on one camera, as the edge sends it.

    ``id`` identifies this message (resends carry the same id, so intake is idempotent);
    ``event_id`` ties the onset, its updates and its clear together.
    """

    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                    description="Stable id of this message; a resend carries the same id.")
    event_id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$",
                          description="Id shared by the onset, updates and clear of one event.")
    node_id: str = Field(min_length=1, max_length=64, description="Edge node that raised it.")
    camera_id: str = Field(min_length=1, max_length=64, description="Camera the event is on.")
    kind: EventKind = Field(description="What was seen.")
    phase: Phase = Field(description="onset, update or clear.")
    seq: int = Field(ge=0, le=2**53 - 1,
                     description="Per-camera sequence number; keeps order per camera (a JSON-safe integer).")
    raised_at: datetime = Field(description="Wall-clock time of this step (UTC).")
    started_at: datetime = Field(description="Wall-clock time the event was raised (UTC).")
    video_time_s: float | None = Field(default=None, ge=0, description="Stream time of this step.")
    score: Unit = Field(description="Detector confidence, 0..1.")
    bbox: tuple[Unit, Unit, Unit, Unit] | None = Field(
        default=None, description="Region [x0, y0, x1, y1] in 0..1 frame coordinates, x0 < x1 and y0 < y1 "
                                  "(the hub refuses others with 422).")
    region: str | None = Field(default=None, max_length=64, description="ROI name the event is in.")
    snapshot_jpeg: str | None = Field(
        default=None, max_length=_b64_chars(MAX_SNAPSHOT_BYTES), pattern=BASE64,
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/jpeg"},
        description="Base64 JPEG with the region drawn (the hub decodes it and refuses anything else).")
    clip_mp4: str | None = Field(
        default=None, max_length=_b64_chars(MAX_CLIP_BYTES), pattern=BASE64,
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "video/mp4"},
        description="Base64 MP4 clip around the onset (the hub refuses anything else).")
    details: dict[str, float | int | str | bool | None] = Field(
        default_factory=dict, description="Detector figures for the record (flat, small).")

    _aware_raised = field_validator("raised_at", "started_at")(_aware)

    @field_validator("snapshot_jpeg", "clip_mp4")
    @classmethod
    def _decode(cls, value: str | None) -> str | None:
        """Decoded once here; what the bytes are (a decodable JPEG, an MP4) is the hub's check."""
        if value is None:
            return None
        return _Decoded.of(value, base64.b64decode(value))

    def problem(self) -> str | None:
        """What is wrong across fields (which a JSON schema cannot say), or None: the box's corners
        in order, the event not starting after this step, the media what they claim to be. The edge
        builds only such alerts; the hub refuses others (422) after it checked who sent them."""
        if self.bbox is not None:
            x0, y0, x1, y1 = self.bbox
            if x1 <= x0 or y1 <= y0:
                return "bbox must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1"
        if self.started_at > self.raised_at:
            return "started_at is after raised_at"
        snapshot, clip = self.snapshot_bytes(), self.clip_bytes()
        if snapshot is not None and not (
            snapshot[:3] == b"\xff\xd8\xff" and snapshot.rstrip(b"\x00")[-2:] == b"\xff\xd9"
        ):
            return "snapshot_jpeg is not a JPEG image"
        if clip is not None and clip[4:8] != b"ftyp":
            return "clip_mp4 is not an MP4 file"
        return None

    def snapshot_bytes(self) -> bytes | None:
        return _Decoded.bytes_of(self.snapshot_jpeg)

    def clip_bytes(self) -> bytes | None:
        return _Decoded.bytes_of(self.clip_mp4)


class _Decoded(str):
    """A base64 field's text that keeps the bytes validation decoded it to: a hub decodes each
    snapshot once, not again for storing (tens of kB per alert, on the requests' event loop)."""

    raw: bytes

    @classmethod
    def of(cls, text: str, raw: bytes) -> _Decoded:
        out = cls(text)
        out.raw = raw
        return out

    @staticmethod
    def bytes_of(value: str | None) -> bytes | None:
        if value is None:
            return None
        return value.raw if isinstance(value, _Decoded) else base64.b64decode(value)




def stable_id(*parts: object) -> str:
    """A short id derived from the parts, so the same step always gets the same id."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()
    return digest[:32]


_Unit = Annotated[float, Field(ge=0, le=1)]


class PtzMove(_Wire):
    """One GotoHomePosition the edge sent (or tried) after the camera raised camera_moved."""

    at: datetime = Field(description="When the edge sent it (UTC).")
    ok: bool = Field(description="Whether the device accepted it.")
    error: str | None = Field(default=None, max_length=300, description="Why it failed, if it did.")

    _aware_at = field_validator("at")(_aware)


class OnvifHealth(_Wire):
    """What the edge learnt from a camera's ONVIF service (cameras without ONVIF send none)."""

    ok: bool = Field(description="Whether the last exchange with the device worked.")
    error: str | None = Field(default=None, max_length=500,
                              description="Why it did not (wrong password, unreachable, ...).")
    checked_at: datetime | None = Field(default=None, description="Time of the last exchange (UTC).")
    clock_offset_s: float | None = Field(
        default=None, description="Device clock minus the edge's clock, seconds (None: not read yet).")
    clock_wrong: bool = Field(
        default=False, description="The offset is beyond the camera's onvif.max_clock_offset_s.")
    main_uri: str | None = Field(default=None, max_length=500,
                                 description="Main stream URI from the profiles (no credentials).")
    sub_uri: str | None = Field(default=None, max_length=500,
                                description="Sub stream URI from the profiles (no credentials).")
    snapshot_uri: str | None = Field(default=None, max_length=500,
                                     description="Snapshot URI from the main profile (no credentials).")
    ptz_home_on_moved: bool = Field(default=False, description="Whether camera_moved sends it home.")
    ptz_moves: list[PtzMove] = Field(default_factory=list, max_length=20,
                                     description="The latest home moves, newest last.")
    ptz_moves_total: int = Field(default=0, ge=0, description="Home moves since the edge started.")

    _aware_checked = field_validator("checked_at")(_aware_opt)


class CameraHealth(_Wire):
    """One camera's state in a heartbeat."""

    camera_id: str = Field(min_length=1, max_length=64)
    status: CameraStatus = Field(description="online, degraded (a fault stands) or offline.")
    fps_in: float = Field(ge=0, description="Frames received per second.")
    fps_analysed: float = Field(ge=0, description="Frames analysed per second.")
    decode_errors: int = Field(ge=0, description="Decode errors since the worker started.")
    reconnects: int = Field(default=0, ge=0, description="Stream reconnects since start.")
    last_frame_at: datetime | None = Field(default=None, description="Wall time of the last frame.")
    faults: list[Annotated[EventKind, WithJsonSchema(
        {"type": "string", "enum": [k.value for k in EventKind if k.is_camera_fault]})]] = Field(
        default_factory=list, description="Camera faults standing now (camera_* kinds only).")
    scores: dict[str, float] = Field(
        default_factory=dict, description="Health figures: sharpness, brightness, motion, ...")
    road_proposal: list[tuple[_Unit, _Unit]] | None = Field(
        default=None, max_length=256, description="The road the edge proposed for a camera with no "
        "road ROI: [x, y] vertices in 0..1 frame coordinates; null when it has a road ROI or none yet.")
    onvif: OnvifHealth | None = Field(
        default=None, description="The camera's ONVIF state (stream URIs, clock, PTZ moves); null "
        "for a camera without ONVIF.")

    @field_validator("faults")
    @classmethod
    def _only_faults(cls, value: list[EventKind]) -> list[EventKind]:
        bad = [k for k in value if not k.is_camera_fault]
        if bad:
            raise ValueError(f"not camera faults: {', '.join(bad)}")
        return value


class NodeHealth(_Wire):
    cpu_percent: float = Field(ge=0, description="CPU use of the node, percent of one core x cores.")
    memory_percent: float = Field(ge=0, le=100)
    disk_free_bytes: int = Field(ge=0)
    outbox_depth: int = Field(ge=0, description="Messages waiting in the outbox.")
    outbox_bytes: int = Field(ge=0)
    outbox_dropped: int = Field(default=0, ge=0, description="Messages dropped by the disk policy.")
    outbox_disk_full: int = Field(
        default=0, ge=0, description="Outbox writes refused by a full disk since the worker started.")
    software_version: str = Field(max_length=64)


class Heartbeat(_Wire):
    """A node's periodic report on itself and each of its cameras."""

    id: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    node_id: str = Field(min_length=1, max_length=64)
    sent_at: datetime
    node: NodeHealth
    cameras: list[CameraHealth] = Field(max_length=2000)
    live_url: str | None = Field(
        default=None, max_length=256,
        description="Base URL where this node answers WebRTC offers; the hub relays to it.")
    live_key: str | None = Field(
        default=None, min_length=32, max_length=128, pattern=r"^[A-Za-z0-9_-]+$",
        description="Secret the hub presents (Authorization: Bearer) when it relays an offer to "
                    "live_url; made anew by every edge process, so only the hub this node reports to can "
                    "ask it for video.")
    config_version: int | None = Field(
        default=None, ge=0,
        description="Camera-registry revision this node runs (None: its local town folder, never the "
                    "hub's registry).")
    config_error: str | None = Field(
        default=None, max_length=2000,
        description="Why the node refused the registry's newest revision (it runs config_version).")

    _aware_sent = field_validator("sent_at")(_aware)


class AlertReceipt(_Wire):
    """What the hub answers to an alert: the same answer for a resend."""

    alert_id: str
    incident_id: int
    work_order_id: int | None
    duplicate: bool = Field(description="True when this alert id was already stored.")


MessageType = Literal["alert", "heartbeat"]
