"""The town's configuration: one validated schema, one file per section.

Every model refuses unknown keys and every field says what it is for, so a typo in a YAML file is an
error that names the key instead of a setting that silently does nothing.
"""

from __future__ import annotations

from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic.config import JsonDict, JsonValue

from gridwatch.config.notifications import NotificationSettings

Priority = Literal["P1", "P2", "P3"]
Point = tuple[float, float]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- the place --------------------------------------------------------------------------------


class TownInfo(Strict):
    name: str = Field(description="Town name as the town writes it, e.g. 涌山镇.")
    name_en: str = Field(description="Town name in Latin letters, for the English console.")
    city: str = Field(default="", description="County-level city the town belongs to.")
    province: str = Field(default="", description="Province.")
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone for deadlines and display.")
    center: Point = Field(description="(lat, lon) of the town centre, for the overview map.")
    sample_data: bool = Field(
        default=False, description="True when cameras, grids and people are invented sample data.")


class Village(Strict):
    id: str = Field(min_length=1, max_length=64, description="Stable id, e.g. v-chexi.")
    name: str = Field(description="Village name, e.g. 车溪村.")
    name_en: str = Field(default="", description="Name in Latin letters.")
    lat: float = Field(ge=-90, le=90, description="Latitude of the village centre.")
    lon: float = Field(ge=-180, le=180, description="Longitude of the village centre.")
    sample: bool = Field(default=False, description="True when the village is invented sample data.")


class Worker(Strict):
    id: str = Field(min_length=1, max_length=64, description="Stable person id.")
    name: str = Field(description="Name shown to the centre.")
    phone: str = Field(default="", description="Contact number (sample data uses 555 numbers).")


class Grid(Strict):
    id: str = Field(min_length=1, max_length=64, description="Stable grid id, e.g. g-01.")
    name: str = Field(description="Grid name shown to the centre.")
    villages: list[str] = Field(min_length=1, description="Ids of the villages this grid covers.")
    worker: Worker = Field(description="The grid's grid worker (网格员).")


class Department(Strict):
    id: str = Field(min_length=1, max_length=64, description="Stable id used in routing rules.")
    name: str = Field(description="Name as the town writes it.")
    name_en: str = Field(default="", description="English name.")
    kind: Literal["desk", "bureau", "squad", "lead", "maintenance"] = Field(
        description="desk: a routing desk of the centre; bureau: a department with squads; squad: "
        "part of a bureau; lead: the duty lead escalations go to; maintenance: camera upkeep.")
    parent: str | None = Field(default=None, description="Bureau a squad belongs to.")
    grids: list[str] = Field(
        default_factory=list, description="For squads: the grids this squad covers.")
    notify: list[str] = Field(
        default_factory=list, description="Channels of notifications.yaml that reach this department "
        "itself (its WeCom or DingTalk group robot, its webhook), used for every notice routed to it.")
    phone: str = Field(
        default="", max_length=32, description="Duty phone, texted by sms channels routed to it.")
    lead_phone: str = Field(
        default="", max_length=32,
        description="Phone of the department's lead, texted with supervision notices (else phone).")


class Service(Strict):
    code: str = Field(min_length=1, max_length=64, description="Open311 service_code.")
    name: str = Field(description="Open311 service_name.")
    description: str = Field(default="", description="Open311 description.")
    kind: str = Field(description="Routing kind: an event kind or a report-only kind.")
    keywords: str = Field(default="", description="Open311 keywords, comma separated.")
    group: str = Field(default="", description="Open311 group.")


class Route(Strict):
    kind: str = Field(description="Event kind or report kind this rule routes.")
    department: str = Field(description="Department id; a bureau hands it to the squad of the grid.")
    priority: Priority = Field(description="P1 most urgent.")
    work_order: bool = Field(
        default=True, description="False: record the incident and show it, but make no work order.")
    notify_grid_worker: bool = Field(
        default=True, description="Assign the grid worker of the camera's grid as well.")


class Deadline(Strict):
    priority: Priority = Field(description="Priority this rule applies to.")
    kind: str | None = Field(default=None, description="Kind it applies to; None = any kind.")
    acknowledge_min: int = Field(gt=0, description="Minutes from creation to acknowledge.")
    arrive_min: int = Field(gt=0, description="Minutes from creation to arrive on site.")
    close_min: int = Field(gt=0, description="Minutes from creation to close.")
    accept_min: int | None = Field(
        default=None, gt=0, description="Minutes from dispatch (or rework) for the department to accept; "
        "none = acknowledge_min.")
    feedback_min: int | None = Field(
        default=None, gt=0, description="Minutes from creation (or rework) for the department to feed back "
        "what it did; none = three quarters of close_min.")
    verify_min: int | None = Field(
        default=None, gt=0, description="Minutes from feedback for the grid worker to verify on site; "
        "none = arrive_min.")

    def minutes(self, stage: str) -> int:
        """The length of one stage's clock (acknowledge, accept, arrive, feedback, verify, close)."""
        derived = {
            "accept": self.accept_min or self.acknowledge_min,
            "feedback": self.feedback_min or max(1, self.close_min * 3 // 4),
            "verify": self.verify_min or self.arrive_min,
        }
        return derived.get(stage) or int(getattr(self, f"{stage}_min"))


#: Region names the detectors know; anything else is a typo that would silently do nothing.
ROI_NAMES = frozenset({"road", "slope", "parking", "mask", "ignore"})


_UNIT: JsonDict = {"type": "number", "minimum": 0, "maximum": 1}


class Roi(Strict):
    name: str = Field(min_length=1, max_length=64,
                      description="road (carriageway), slope (hillside beside it), parking (where "
                      "vehicles stop normally: no stopped-vehicle alerts there), or mask (ignored).",
                      json_schema_extra={"enum": cast(list[JsonValue], sorted(ROI_NAMES))})
    polygon: list[Point] = Field(
        description="Vertices (x, y) in 0..1 frame coordinates: at least 3, enclosing some area, edges "
        "not crossing.",
        json_schema_extra={"minItems": 3, "items": {"type": "array", "prefixItems": [_UNIT, _UNIT],
                                                    "minItems": 2, "maxItems": 2}})

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(cls, pts: list[Point]) -> list[Point]:
        return validate_polygon(pts)

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        if name.strip().lower() not in ROI_NAMES:
            raise ValueError(f"unknown region {name!r}: one of {', '.join(sorted(ROI_NAMES))}")
        return name


#: Where a stream URL takes the camera's password: filled in on the edge from ``password_ref``.
PASSWORD_PLACEHOLDER = "{password}"
SECRET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class Streams(Strict):
    main: str = Field(description="Main stream URL (rtsp://, http(s):// or a file path). A password "
                      "is never written here: put {password} where it goes and name the secret in "
                      "password_ref.")
    sub: str | None = Field(default=None, description="Sub stream URL; analysis prefers it.")
    main_for_events: Literal["on_demand", "ring", "never"] = Field(
        default="on_demand",
        description="With a sub stream (analysis reads it), how the main stream serves events: "
        "'on_demand' opens it at an onset for the clip (remuxed, from the onset on) and a full-size "
        "snapshot; 'ring' reads it all the time (demuxed, not decoded) and keeps clip_pre_s + "
        "clip_post_s seconds so the clip starts before the onset; 'never' keeps the analysis frames' "
        "clip and snapshot. Without a sub stream the main stream is analysed and this does nothing.")
    password_ref: str | None = Field(
        default=None, pattern=SECRET_NAME,
        description="Name of the secret that fills {password} in the URLs, resolved on the edge from "
        "its secrets file (--secrets) or $GRIDWATCH_SECRET_<NAME>; the password itself is never "
        "stored in the town folder or the hub's database.")

    @field_validator("main", "sub")
    @classmethod
    def _no_plain_password(cls, url: str | None) -> str | None:
        if url is not None and plain_password(url):
            raise ValueError("the URL holds a password: write {password} in its place and name the "
                             "secret in password_ref")
        return url

    @model_validator(mode="after")
    def _placeholder_has_ref(self) -> Streams:
        uses = any(PASSWORD_PLACEHOLDER in (u or "") for u in (self.main, self.sub))
        if uses and self.password_ref is None:
            raise ValueError("a URL has {password} but password_ref names no secret")
        return self


def plain_password(url: str) -> bool:
    """True when ``url`` carries a literal password (``scheme://user:pw@host``, pw not {password})."""
    _, sep, rest = url.partition("://")
    if not sep:
        return False
    userinfo, at, _ = rest.partition("/")[0].rpartition("@")
    if not at or ":" not in userinfo:
        return False
    return userinfo.split(":", 1)[1] not in ("", PASSWORD_PLACEHOLDER)


class CameraDevice(Strict):
    """What the camera ledger says about the device; streams can be built from it."""

    brand: str = Field(default="", max_length=64,
                       description="Maker as the ledger writes it (hikvision, dahua, uniview, ...).")
    ip: str = Field(default="", max_length=64, description="Camera address on the village network.")
    channel: int = Field(default=1, ge=1, le=256, description="Channel on an NVR (1 for a single camera).")
    user: str = Field(default="", max_length=64, description="Account the edge logs in with.")
    model: str = Field(default="", max_length=128, description="Device model, for maintenance.")


class CameraOnvif(Strict):
    """How the edge reaches a camera's ONVIF service (edge.onvif): its profiles give the stream and
    snapshot URIs, its clock is checked, and a PTZ camera can be sent back to its home preset."""

    host: str = Field(min_length=1, max_length=255,
                      description="Address of the camera's ONVIF service (host name or IP).")
    port: int = Field(default=80, ge=1, le=65535, description="HTTP port of the ONVIF service.")
    user: str = Field(min_length=1, max_length=64, description="ONVIF account the edge logs in with.")
    password_ref: str | None = Field(
        default=None, pattern=SECRET_NAME,
        description="Name of the secret holding the ONVIF password, resolved on the edge like "
        "streams.password_ref (--secrets file or $GRIDWATCH_SECRET_<NAME>); None: the account has no "
        "password.")
    use_streams: bool = Field(
        default=True, description="Run the stream URIs the device's profiles give (first profile: "
        "main, second: sub) instead of streams.main/sub, which stay the fallback while the device "
        "cannot be asked.")
    main_profile: str | None = Field(
        default=None, max_length=64,
        description="Token of the profile for the main stream; None: the first profile listed.")
    sub_profile: str | None = Field(
        default=None, max_length=64,
        description="Token of the profile for the sub stream; None: the second profile listed, if any.")
    check_every_s: float = Field(
        default=300.0, ge=5, description="Seconds between reads of the device's clock (and retries of "
        "its profiles after a failure).")
    max_clock_offset_s: float = Field(
        default=60.0, gt=0, description="A device clock further off the edge's than this is shown as "
        "wrong on the camera's health (maintainers set it right: evidence times depend on it).")
    ptz_home_on_moved: bool = Field(
        default=False, description="PTZ cameras: send the camera to its home preset (GotoHomePosition) "
        "when it raises camera_moved. Every move is logged and reported in the camera's health.")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Seconds one ONVIF call may take.")


class CameraDetection(Strict):
    """Detection settings one camera may set for itself over the town's ``detection.yaml`` (a busy
    junction, a bus stop, a wide road); the analysis rate and size stay town-wide."""

    blockage_min_width: float | None = Field(
        default=None, gt=0, le=1, description="Share of the road's width an obstruction must span.")
    blockage_persist_s: float | None = Field(
        default=None, gt=0, description="Seconds an obstruction must stand to be a road_blockage.")
    landslide_persist_s: float | None = Field(
        default=None, gt=0, description="Seconds material must rest on the road to be a landslide.")
    flooding_persist_s: float | None = Field(
        default=None, gt=0, description="Seconds water must stand on the road to be flooding.")
    stopped_vehicle_s: float | None = Field(
        default=None, gt=0, description="Seconds a vehicle may stand on the carriageway before it is a "
        "road_blockage with cause 'vehicle'.")
    fault_persist_s: float | None = Field(
        default=None, gt=0, description="Seconds a camera fault must last before it is raised.")
    clear_s: float | None = Field(
        default=None, gt=0, description="Seconds of normal scene before an event clears.")
    update_every_s: float | None = Field(
        default=None, gt=0, description="Least seconds between updates of a standing event.")

    def over(self, town: DetectionSettings) -> DetectionSettings:
        """The town's settings with this camera's set ones put over them."""
        return town.model_copy(update=self.model_dump(exclude_none=True))


class Camera(Strict):
    id: str = Field(min_length=1, max_length=64, description="Stable camera id, e.g. cam-001.")
    name: str = Field(description="Name shown to the centre, usually road and place.")
    village: str = Field(description="Village id the camera is in.")
    grid: str = Field(description="Grid id the camera is in.")
    node: str = Field(description="Edge node that reads this camera.")
    lat: float = Field(ge=-90, le=90, description="Latitude.")
    lon: float = Field(ge=-180, le=180, description="Longitude.")
    road: str = Field(default="", description="Road the camera watches, for grouping neighbours.")
    streams: Streams = Field(description="Where to read the video.")
    rois: list[Roi] = Field(default_factory=list, description="Regions of interest; none = all road. "
                            "Each name once, but for mask.")
    detection: CameraDetection | None = Field(
        default=None, description="This camera's own detection settings, over the town's.")
    enabled: bool = Field(default=True, description="False: configured but not read.")
    device: CameraDevice | None = Field(
        default=None, description="Ledger facts: brand, IP, channel, account (no password).")
    onvif: CameraOnvif | None = Field(
        default=None, description="The camera's ONVIF service, where it speaks ONVIF; None: no ONVIF.")


class HardwareDecoding(Strict):
    device_type: str = Field(
        pattern=r"^[a-z0-9_]{2,20}$",
        description="FFmpeg hardware device type: 'cuda' (NVIDIA NVDEC) is the one the FFmpeg inside "
        "PyAV's wheels decodes H.264 with; others ('vaapi', 'qsv') need a PyAV built against an FFmpeg "
        "that has them. Checked when the edge starts: a box that cannot open it refuses to start.")
    device: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="Which device: a GPU index for cuda ('0'), a render node for vaapi "
        "('/dev/dri/renderD128'); none = the default one.")


class EdgeNode(Strict):
    id: str = Field(min_length=1, max_length=64, description="Node id, used with --node.")
    name: str = Field(default="", description="Where the box is.")
    hw_decode: HardwareDecoding | None = Field(
        default=None,
        description="Decode this box's streams on its GPU's video engine instead of the CPU (decoding is "
        "most of an edge box's CPU; BENCHMARKS.md section 1); none = on the CPU.")
    token_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-f]{64}$",
        description="SHA-256 of a pre-provisioned node token; tokens can also be made by the CLI.")


# --- behaviour ----------------------------------------------------------------------------------


class DetectionSettings(Strict):
    analysis_fps: float = Field(default=1.0, gt=0, le=25, description="Frames analysed per second.")
    analysis_width: int = Field(default=320, ge=64, le=1920, description="Analysis frame width, px.")
    adaptive_rate: bool = Field(
        default=True, description="Edge workers analyse only key frames (a key frame every 4.5 s or "
        "less) while a camera's scene is quiet, and analysis_fps while anything could become an event "
        "(edge/rate.py); false: analysis_fps all the time. gridwatch analyze --adaptive does the same.")
    blockage_min_width: float = Field(
        default=0.3, gt=0, le=1, description="Share of the road's width an obstruction must span.")
    blockage_persist_s: float = Field(
        default=30.0, gt=0, description="Seconds an obstruction must stand to be a road_blockage.")
    landslide_persist_s: float = Field(
        default=3.0, gt=0, description="Seconds material must rest on the road to be a landslide.")
    flooding_persist_s: float = Field(
        default=30.0, gt=0, description="Seconds water must stand on the road to be flooding.")
    stopped_vehicle_s: float = Field(
        default=120.0, gt=0, description="Seconds a vehicle may stand on the carriageway (outside a "
        "parking region) before it is a road_blockage with cause 'vehicle', whatever its share of the "
        "road's width.")
    decision: Literal["learned", "rules"] = Field(
        default="rules", description="How a standing component's kind is decided: 'learned' by the "
        "decision model (models/obstruction_decision.onnx, edge/obstruction_learned.py) within the "
        "physical gates, or 'rules' by the hand-set rules of edge/obstruction_decide.py.")
    fault_persist_s: float = Field(
        default=6.0, gt=0, description="Seconds a camera fault must last before it is raised.")
    clear_s: float = Field(
        default=20.0, gt=0, description="Seconds of normal scene before an event clears.")
    update_every_s: float = Field(
        default=60.0, gt=0, description="Least seconds between updates of a standing event.")
    offline_after_s: float = Field(
        default=8.0, gt=0,
        description="Seconds without a frame before camera_offline: long enough for two missed key "
        "frames of a 2-4 s GOP, short enough to raise a dead camera within 10 s.")


class EdgeSettings(Strict):
    hub_url: str = Field(default="http://127.0.0.1:8000", description="Base URL of the hub.")
    data_dir: str = Field(default="var/edge", description="Outbox, clips and state, per node.")
    heartbeat_every_s: float = Field(default=5.0, gt=0, description="Seconds between heartbeats.")
    outbox_max_bytes: int = Field(
        default=2_000_000_000, gt=0, description="Hard cap on outbox disk use; alerts kept longest.")
    clip_pre_s: float = Field(default=5.0, ge=0, description="Seconds of clip before onset.")
    clip_post_s: float = Field(default=5.0, ge=0, description="Seconds of clip after onset.")
    reconnect_max_s: float = Field(default=30.0, gt=0, description="Cap of reconnect backoff.")
    config_poll_s: float = Field(
        default=30.0, gt=0, description="Seconds between looks at the hub's camera registry for this node's "
        "configuration (a heartbeat answer naming a newer revision makes the node look at once).")
    analysis_processes: int | None = Field(
        default=None, ge=0, le=256,
        description="Analysis processes, cameras spread over them (each decodes and analyses its "
        "cameras; a process that dies or hangs is restarted, its stored alerts are safe in the outbox "
        "of the main process). 0: one process, analysis threads over the cores (the cheaper choice on "
        "1-2 cores; live view needs it). None: one per core when the box has more than two cores and "
        "more than two cameras, else 0.")
    analysis_hung_after_s: float = Field(
        default=30.0, gt=0, description="An analysis process that answers nothing or makes no analysis "
        "turn for this long is killed and restarted.")
    live_host: str = Field(
        default="127.0.0.1", description="Address the live-view endpoint (gridwatch edge --live-port) "
        "binds to and announces to the hub; must be reachable from the hub. Offers must present the "
        "key this process reports in its heartbeats, so only the hub can ask for video.")


class HubSettings(Strict):
    incident_group_window_s: float = Field(
        default=600.0, ge=0, description="Same kind on neighbouring cameras of one road within this "
        "window joins one incident; 0 turns grouping off.")
    heartbeat_offline_after_s: float = Field(
        default=30.0, gt=0, description="A camera whose heartbeats stop this long goes offline.")
    silence_after_false_alarm_min: int = Field(
        default=60, ge=0, description="Minutes a false-alarm rejection silences that camera+kind.")
    max_snapshot_bytes: int = Field(default=1_000_000, gt=0, description="Largest snapshot accepted.")
    auto_close_on_verify: bool = Field(
        default=False, description="True: a passed on-site verification closes the work order at once; "
        "false: the dispatcher closes it.")
    camera_verification: Literal["evidence", "close"] = Field(
        default="evidence", description="When a camera's obstruction clears after the department's "
        "feedback: 'evidence' records the camera's after-snapshot in the history to support the grid "
        "worker's check; 'close' lets it verify and close the order.")
    cors_origins: list[str] = Field(
        default_factory=list, description="Browser origins allowed to call the API across sites "
        "(CORS); empty, the default, means none.")


class Town(Strict):
    """A whole town: the place, who handles what, and how the software behaves there."""

    town: TownInfo
    villages: list[Village]
    grids: list[Grid]
    departments: list[Department]
    services: list[Service]
    routing: list[Route]
    deadlines: list[Deadline]
    nodes: list[EdgeNode]
    cameras: list[Camera]
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    edge: EdgeSettings = Field(default_factory=EdgeSettings)
    hub: HubSettings = Field(default_factory=HubSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    _camera_index: dict[str, Camera] | None = PrivateAttr(default=None)
    _token_index: tuple[list[EdgeNode], dict[str, EdgeNode]] | None = PrivateAttr(default=None)

    # Look-ups; the loader has already checked every reference, so these never miss on a valid town.
    def camera(self, camera_id: str) -> Camera:
        return self.cameras_by_id()[camera_id]

    def detection_for(self, camera: Camera) -> DetectionSettings:
        """Detection settings of one camera: the town's, with the camera's own over them."""
        return self.detection if camera.detection is None else camera.detection.over(self.detection)

    def cameras_by_id(self) -> dict[str, Camera]:
        """Cameras by id, built once: a county has tens of thousands, looked up on every request."""
        if self._camera_index is None or len(self._camera_index) != len(self.cameras):
            self._camera_index = {c.id: c for c in self.cameras}
        return self._camera_index

    def grid(self, grid_id: str) -> Grid:
        return next(g for g in self.grids if g.id == grid_id)

    def village(self, village_id: str) -> Village:
        return next(v for v in self.villages if v.id == village_id)

    def department(self, department_id: str) -> Department:
        return next(d for d in self.departments if d.id == department_id)

    def route(self, kind: str) -> Route:
        return next(r for r in self.routing if r.kind == kind)

    def node(self, node_id: str) -> EdgeNode | None:
        """The node of that id, or None (an edge worker may run a node the town does not list)."""
        return next((n for n in self.nodes if n.id == node_id), None)

    def node_by_token(self, token_sha256: str) -> EdgeNode | None:
        """The node whose nodes.yaml token hash this is: asked on every request of an edge, so by a
        dict built once per list of nodes (a county lists hundreds), not a scan. A look-up by the
        hash of a secret is not a timing leak of the secret: equal prefixes of SHA-256 digests say
        nothing about the token."""
        index = self._token_index
        if index is None or index[0] is not self.nodes:
            index = (self.nodes, {n.token_sha256: n for n in self.nodes if n.token_sha256 is not None})
            self._token_index = index
        return index[1].get(token_sha256)

    def cameras_of(self, node_id: str) -> list[Camera]:
        return [c for c in self.cameras if c.node == node_id and c.enabled]

    def deadline(self, kind: str, priority: Priority) -> Deadline:
        specific = [d for d in self.deadlines if d.priority == priority and d.kind == kind]
        return (specific or [d for d in self.deadlines if d.priority == priority and d.kind is None])[0]


SECTIONS: tuple[str, ...] = tuple(Town.model_fields)


def validate_polygon(pts: list[Point]) -> list[Point]:
    """At least three vertices, all inside 0..1, enclosing some area, edges not crossing."""
    if len(pts) < 3:
        raise ValueError("a polygon needs at least 3 points")
    for x, y in pts:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(f"point ({x}, {y}) is outside the 0..1 frame")
    edges = list(zip(pts, pts[1:] + pts[:1], strict=True))
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in edges))
    if area < 1e-4:
        raise ValueError("the polygon encloses no area")
    for i, a in enumerate(edges):
        for j, b in enumerate(edges):
            if j <= i + 1 or (i == 0 and j == len(edges) - 1):
                continue
            if _segments_cross(a, b):
                raise ValueError("the polygon's edges cross each other")
    return pts


def _segments_cross(a: tuple[Point, Point], b: tuple[Point, Point]) -> bool:
    def orient(p: Point, q: Point, r: Point) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    (p1, p2), (p3, p4) = a, b
    d1, d2 = orient(p3, p4, p1), orient(p3, p4, p2)
    d3, d4 = orient(p1, p2, p3), orient(p1, p2, p4)
    return d1 * d2 < 0 and d3 * d4 < 0
