"""The work-order API's request and response bodies, one request model per action, so the OpenAPI
schema says what each action needs (the hub still checks state, role and meaning beyond the shape)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from central.order_lifecycle import MAX_PHOTOS, Action, State


class Source(StrEnum):
    CAMERA = "camera"
    GRID_WORKER = "grid_worker"  # a grid worker's own report (Open311 with a grid_worker token)
    PUBLIC = "public"  # any other Open311 report


#: Text without NUL characters (the database cannot store them), and text that also says something
#: (not only blanks): the hub checks both, so the schema says both.
NO_NUL = r"^[^\x00]*$"
SAYS_SOMETHING = r"^[^\x00]*[^\s\x00][^\x00]*$"
Note = Annotated[str, Field(default="", max_length=4000, pattern=NO_NUL,
                            description="Free text for the record.")]
Photo = Annotated[str, Field(
    description="Base64 JPEG (decoded and checked by the hub: 422 if it is not one, 413 if larger than "
    "the town's hub.max_snapshot_bytes).",
    json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/jpeg"})]


def _text(what: str) -> Any:
    """A required text field that must say something (not only blanks)."""
    return Field(min_length=1, max_length=4000, pattern=SAYS_SOMETHING, description=what)
IsoTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note = ""

    @field_validator("note", "reason", "department", "assignee", check_fields=False)
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


class AcknowledgeBody(_Body):
    """Dispatcher/admin: the centre has seen the order (new -> acknowledged)."""

    action: Literal["acknowledge"]


class DispatchBody(_Body):
    """Dispatcher/admin: send it to a department (acknowledged -> dispatched)."""

    action: Literal["dispatch"]
    department: str | None = Field(default=None, max_length=64, description="Department id.")
    assignee: str | None = Field(default=None, max_length=64, description="Grid worker id.")


class AcceptBody(_Body):
    """Department (grid worker, dispatcher, admin): take the order on (dispatched|rework -> accepted)."""

    action: Literal["accept"]


class ArriveBody(_Body):
    """Department (grid worker, admin): staff are on site (accepted -> on_site)."""

    action: Literal["arrive"]


class FeedbackBody(_Body):
    """Department (grid worker, admin): what was done, with photos (accepted|on_site -> fed_back)."""

    action: Literal["feedback"]
    note: str = _text("What was done.")
    photos: list[Photo] = Field(min_length=1, max_length=MAX_PHOTOS, description="1-5 base64 JPEGs.")


class ResolveBody(_Body):
    """Deprecated alias of ``feedback`` with one photo in ``evidence``."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"deprecated": True})
    action: Literal["resolve"]
    note: str = _text("What was done.")
    evidence: Photo


class RequestExtensionBody(_Body):
    """Department (admin): ask for a later handling deadline; the dispatcher decides."""

    action: Literal["request_extension"]
    reason: str = _text("Why more time is needed.")
    until: AwareDatetime = Field(description="The handling deadline asked for; one not later than the "
                                 "order's current handling deadline is refused with 409.")


class ApproveExtensionBody(_Body):
    """Dispatcher/admin: grant the pending extension (the handling deadline moves to its ``until``)."""

    action: Literal["approve_extension"]


class DeclineExtensionBody(_Body):
    """Dispatcher/admin: refuse the pending extension (the deadline stays)."""

    action: Literal["decline_extension"]


class ReturnBody(_Body):
    """Department (admin): the order is not theirs (-> returned; the dispatcher reassigns)."""

    action: Literal["return"]
    reason: str = _text("Why it is not this department's.")


class VerifyPassedBody(_Body):
    """The grid worker of the order's grid (dispatcher, admin): checked on site, the work passed
    (fed_back -> verified)."""

    action: Literal["verify"]
    passed: Literal[True] = Field(description="The work passed the check on site.")
    photos: list[Photo] = Field(default_factory=list, max_length=MAX_PHOTOS, description="Base64 JPEGs.")


class VerifyFailedBody(_Body):
    """The same, the work did not pass (fed_back -> rework): a note saying what is still wrong and at
    least one photo."""

    action: Literal["verify"]
    passed: Literal[False] = Field(description="The work did not pass the check on site.")
    note: str = _text("What is still wrong.")
    photos: list[Photo] = Field(min_length=1, max_length=MAX_PHOTOS, description="1-5 base64 JPEGs.")


class CloseBody(_Body):
    """Dispatcher/admin: close a verified order."""

    action: Literal["close"]


class RejectBody(_Body):
    """Dispatcher/admin: a false alarm (silences that camera and kind for a while)."""

    action: Literal["reject"]
    reason: str = _text("Why it is a false alarm.")


class ReassignBody(_Body):
    """Dispatcher/admin: another department or grid worker (-> dispatched); at least one of the two."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["department"], "properties": {"department": {"type": "string"}}},
        {"required": ["assignee"], "properties": {"assignee": {"type": "string"}}}]})

    action: Literal["reassign"]
    department: str | None = Field(default=None, max_length=64, description="Department id.")
    assignee: str | None = Field(default=None, max_length=64, description="Grid worker id.")


def _tag(body: Any) -> str | None:
    """The union member a body is: its action, and for ``verify`` whether it passed."""
    action = body.get("action") if isinstance(body, dict) else getattr(body, "action", None)
    if action != "verify":
        return action if isinstance(action, str) else None
    passed = body.get("passed") if isinstance(body, dict) else getattr(body, "passed", None)
    return {True: "verify:passed", False: "verify:failed"}.get(passed) if isinstance(passed, bool) else None


#: One body per action (and for ``verify``, one per outcome); the OpenAPI schema lists them as a
#: ``oneOf`` that the ``action`` (and ``passed``) constants tell apart.
ActionBody = Annotated[
    Annotated[AcknowledgeBody, Tag("acknowledge")]
    | Annotated[DispatchBody, Tag("dispatch")]
    | Annotated[AcceptBody, Tag("accept")]
    | Annotated[ArriveBody, Tag("arrive")]
    | Annotated[FeedbackBody, Tag("feedback")]
    | Annotated[ResolveBody, Tag("resolve")]
    | Annotated[RequestExtensionBody, Tag("request_extension")]
    | Annotated[ApproveExtensionBody, Tag("approve_extension")]
    | Annotated[DeclineExtensionBody, Tag("decline_extension")]
    | Annotated[ReturnBody, Tag("return")]
    | Annotated[VerifyPassedBody, Tag("verify:passed")]
    | Annotated[VerifyFailedBody, Tag("verify:failed")]
    | Annotated[CloseBody, Tag("close")]
    | Annotated[RejectBody, Tag("reject")]
    | Annotated[ReassignBody, Tag("reassign")],
    Discriminator(_tag, custom_error_type="invalid_action",
                  custom_error_message="'action' must be one of the work-order actions (and 'verify' "
                  "needs 'passed': true or false)"),
]


# --- answers ------------------------------------------------------------------------------------


class Problem(BaseModel):
    detail: str = Field(description="What went wrong.")


class DepartmentRef(BaseModel):
    id: str
    name: str
    name_en: str


class GridRef(BaseModel):
    id: str
    name: str


class VillageRef(BaseModel):
    id: str
    name: str
    name_en: str


class CameraRef(BaseModel):
    id: str
    name: str
    lat: float
    lon: float


class PersonRef(BaseModel):
    id: str
    name: str | None
    phone: str


class StageDeadlines(BaseModel):
    """Each stage's deadline (null: its clock has not started)."""

    acknowledge_by: IsoTime | None
    accept_by: IsoTime | None
    arrive_by: IsoTime | None
    feedback_by: IsoTime | None
    verify_by: IsoTime | None
    close_by: IsoTime | None


class StageFlags(BaseModel):
    acknowledge: bool
    accept: bool
    arrive: bool
    feedback: bool
    verify: bool
    close: bool


class StageTimes(BaseModel):
    acknowledge: IsoTime | None
    accept: IsoTime | None
    arrive: IsoTime | None
    feedback: IsoTime | None
    verify: IsoTime | None
    close: IsoTime | None


class ExtensionRequest(BaseModel):
    until: IsoTime
    reason: str


class WorkOrderOut(BaseModel):
    id: int
    source: str = Field(description="camera, grid_worker or public.")
    kind: str
    service_code: str | None
    state: State
    priority: Literal["P1", "P2", "P3"]
    department: DepartmentRef
    grid: GridRef | None
    village: VillageRef | None
    camera: CameraRef | None
    assignee: PersonRef | None
    incident_id: int | None
    description: str
    address: str | None
    lat: float | None
    long: float | None
    status_notes: str
    created_at: IsoTime
    updated_at: IsoTime
    deadlines: StageDeadlines
    overdue: StageFlags = Field(description="Per stage: its clock runs and its deadline has passed.")
    is_overdue: bool
    escalated: bool = Field(description="Some stage deadline was missed (supervision notice).")
    escalations: StageTimes = Field(description="When each stage's current deadline miss was noticed.")
    supervision_misses: int
    rework_count: int
    extension_request: ExtensionRequest | None = Field(description="A pending extension request.")
    acknowledged_at: IsoTime | None
    dispatched_at: IsoTime | None
    accepted_at: IsoTime | None
    arrived_at: IsoTime | None
    fed_back_at: IsoTime | None
    resolved_at: IsoTime | None = Field(description="Deprecated: the same as fed_back_at.")
    verified_at: IsoTime | None
    closed_at: IsoTime | None
    detection_cleared_at: IsoTime | None
    snapshot_url: str | None
    clip_url: str | None


class HistoryOut(BaseModel):
    id: int | None
    action: str = Field(description="create, an action, camera_clear, or supervise (a missed deadline).")
    from_state: str | None
    to_state: str
    actor: str
    role: str
    at: IsoTime
    note: str
    attachments: list[str] = Field(description="Media URLs of the step's photos (evidence).")
    details: dict[str, Any]


class OrderSnapshot(BaseModel):
    """One grouped camera's best picture of the incident (central.snapshots)."""

    camera_id: str
    camera_name: str
    url: str | None = Field(description="Media URL of the JPEG.")
    raised_at: IsoTime
    score: float


class WorkOrderDetail(WorkOrderOut):
    snapshots: list[OrderSnapshot] = Field(
        description="Every grouped camera's picture, labelled; the order's own camera first "
        "(snapshot_url is the first).")
    history: list[HistoryOut]
    allowed_actions: list[Action] = Field(description="What the caller may do now.")


class WorkOrderPage(BaseModel):
    items: list[WorkOrderOut]
    total: int
    limit: int
    offset: int


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No valid bearer token."},
    403: {"model": Problem, "description": "The caller's role (or department, or grid) may not."},
    404: {"model": Problem, "description": "No such work order (or not the caller's department's)."},
}
ACTION_ERRORS: dict[int | str, dict[str, Any]] = ERRORS | {
    400: {"model": Problem, "description": "The body could not be read: not JSON, or not UTF-8 text."},
    409: {"model": Problem, "description": "The order's state does not allow the action now (or no "
          "extension is pending, or the deadline asked for is not later than the current one)."},
    413: {"model": Problem, "description": "A photo, or the body, is too large."},
}
