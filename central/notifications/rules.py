"""Which feed events notify whom, over which channels, saying what. Pure: an event, the town and a
way to look an order up in; deliveries out. No database, no sockets.

Triggers (the names ``notifications.yaml`` routes by):

- ``new_order``: ``work_order.created``.
- ``deadline_missed``: ``work_order.supervised`` (``level`` names the department's lead or the duty
  lead). The deadline watcher also publishes ``work_order.escalated`` when a miss reaches the duty
  lead; that is the same miss, so it notifies nobody a second time.
- ``verification_due``: ``work_order.updated`` with ``action: feedback``.
- ``camera_fault``: ``camera.status`` to anything but online.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gridwatch.config import Town
from gridwatch.config.notifications import Channel, NotificationSettings, Targets
from gridwatch.config.schema import Department

#: Feed event type -> trigger (``work_order.updated`` and ``camera.status`` are decided on their data).
TRIGGERS: dict[str, str] = {
    "work_order.created": "new_order",
    "work_order.supervised": "deadline_missed",
}
TARGETS = ("department", "grid_worker", "lead", "maintenance")
STAGES = {
    "acknowledge": "确认",
    "accept": "受理",
    "arrive": "到场",
    "feedback": "反馈",
    "verify": "核查",
    "close": "结案",
}
FAULTS = {
    "camera_offline": "离线",
    "camera_frozen": "画面冻结",
    "camera_blurred": "画面模糊",
    "camera_occluded": "镜头遮挡",
    "camera_moved": "镜头移位",
    "camera_too_dark": "画面过暗",
    "camera_overexposed": "画面过曝",
}
STATUSES = {"offline": "离线", "degraded": "画面异常"}


@dataclass(frozen=True, slots=True)
class Event:
    """What the rules need of a feed event."""

    id: int
    type: str
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person or group to tell: ``kind`` is department, worker or lead."""

    kind: str
    id: str
    name: str
    phone: str = ""
    channels: tuple[str, ...] = ()  # its own channels (a department's ``notify``)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "id": self.id, "name": self.name, "phone": self.phone}


@dataclass(frozen=True, slots=True)
class Notice:
    """One thing to tell, as stored in a message and shown by every channel's format."""

    trigger: str
    event_id: int
    event_type: str
    at: str
    title: str
    lines: tuple[str, ...]
    url: str
    order_id: int | None = None
    camera_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "trigger": self.trigger,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "at": self.at,
            "title": self.title,
            "lines": list(self.lines),
            "url": self.url,
            "order_id": self.order_id,
            "camera_id": self.camera_id,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    recipient: Recipient
    notice: Notice


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What routing needs of a work order, from the event's data or, for events that do not carry
    it (a supervision notice), from the order itself."""

    id: int
    department_id: str
    grid_id: str | None = None
    assignee_id: str | None = None
    kind: str = ""
    priority: str = ""
    place: str = ""


OrderLookup = Callable[[int], OrderFacts | None]


def trigger_of(event: Event) -> str | None:
    if event.type == "work_order.updated":
        return "verification_due" if event.data.get("action") == "feedback" else None
    if event.type == "camera.status":
        return "camera_fault" if event.data.get("status") not in (None, "online") else None
    return TRIGGERS.get(event.type)


def route(event: Event, town: Town, settings: NotificationSettings, lookup: OrderLookup) -> list[Delivery]:
    """The deliveries one feed event makes: one per (channel, recipient), in a stable order."""
    trigger = trigger_of(event)
    if trigger is None:
        return []
    targets: Targets = getattr(settings.routes, trigger)
    order = _order_facts(event.data, lookup) if trigger != "camera_fault" else None
    if trigger != "camera_fault" and order is None:
        return []
    notice = _notice(trigger, event, town, settings, order)
    out: list[Delivery] = []
    seen: set[tuple[str, str]] = set()
    for target in TARGETS:
        extra = getattr(targets, target)
        if extra is None:
            continue
        for recipient in _recipients(target, trigger, event, town, order):
            for name in _channels_for(settings, extra, recipient):
                if (name, recipient.key) not in seen:
                    seen.add((name, recipient.key))
                    out.append(Delivery(name, recipient, notice))
    return out


def _channels_for(settings: NotificationSettings, extra: Iterable[str], r: Recipient) -> list[str]:
    """The route's channels and the recipient's own, enabled ones only; an sms channel only for a
    recipient with a phone number."""
    out: list[str] = []
    for name in (*extra, *r.channels):
        ch: Channel | None = settings.channel(name)
        if ch is None or not ch.enabled or name in out:
            continue
        if ch.type == "sms" and not r.phone:
            continue
        out.append(name)
    return out


def _recipients(
    target: str, trigger: str, event: Event, town: Town, order: OrderFacts | None
) -> list[Recipient]:
    if target == "maintenance":
        return [_department(d) for d in town.departments if d.kind == "maintenance"]
    if target == "lead":
        level = event.data.get("level") if event.type == "work_order.supervised" else "duty_lead"
        if level == "department_lead" and order is not None:
            dep = _find_department(town, order.department_id)
            if dep is not None:
                return [
                    Recipient(
                        "lead", dep.id, f"{dep.name} 负责人", dep.lead_phone or dep.phone, tuple(dep.notify)
                    )
                ]
            return []
        return [
            Recipient("lead", d.id, d.name, d.phone, tuple(d.notify))
            for d in town.departments
            if d.kind == "lead"
        ]
    if order is None:
        return []
    if target == "department":
        dep = _find_department(town, order.department_id)
        return [_department(dep)] if dep is not None else []
    # grid_worker: the assignee when a grid worker, else the worker of the order's grid
    workers = {g.worker.id: g.worker for g in town.grids}
    worker = workers.get(order.assignee_id or "")
    if worker is None and order.grid_id:
        grid = next((g for g in town.grids if g.id == order.grid_id), None)
        worker = grid.worker if grid is not None else None
    return [Recipient("worker", worker.id, worker.name, worker.phone)] if worker is not None else []


def _department(dep: Department) -> Recipient:
    return Recipient("department", dep.id, dep.name, dep.phone, tuple(dep.notify))


def _find_department(town: Town, dep_id: str) -> Department | None:
    return next((d for d in town.departments if d.id == dep_id), None)


def _order_facts(data: dict[str, Any], lookup: OrderLookup) -> OrderFacts | None:
    oid = data.get("id")
    if not isinstance(oid, int):
        return None
    dep = data.get("department")
    dep_id = dep.get("id") if isinstance(dep, dict) else dep
    if not isinstance(dep_id, str):  # a supervision notice carries only the order's id
        return lookup(oid)
    grid, assignee = data.get("grid"), data.get("assignee")
    camera, village = data.get("camera"), data.get("village")
    place = " · ".join(
        str(p)
        for p in (
            village.get("name") if isinstance(village, dict) else None,
            camera.get("name") if isinstance(camera, dict) else None,
            data.get("address"),
        )
        if p
    )
    return OrderFacts(
        id=oid,
        department_id=dep_id,
        grid_id=grid.get("id") if isinstance(grid, dict) else grid,
        assignee_id=assignee.get("id") if isinstance(assignee, dict) else assignee,
        kind=str(data.get("kind") or ""),
        priority=str(data.get("priority") or ""),
        place=place,
    )


# --- what the notice says ------------------------------------------------------------------------


def _notice(
    trigger: str, event: Event, town: Town, settings: NotificationSettings, order: OrderFacts | None
) -> Notice:
    base = settings.console_url.rstrip("/")
    zone = ZoneInfo(town.town.timezone)
    at = event.at.isoformat()
    if trigger == "camera_fault":
        cid = str(event.data.get("camera_id", ""))
        cam = town.cameras_by_id().get(cid)
        status = str(event.data.get("status", ""))
        faults = [FAULTS.get(f, f) for f in event.data.get("faults") or []]
        what = "、".join(faults) or STATUSES.get(status, status)
        place = f"位置: {cam.name}" if cam else f"摄像头: {cid}"
        fault_lines = [place, f"状态: {STATUSES.get(status, status)}"]
        if faults:
            fault_lines.append(f"故障: {'、'.join(faults)}")
        if event.data.get("node_id"):
            fault_lines.append(f"边缘节点: {event.data['node_id']}")
        return Notice(
            trigger,
            event.id,
            event.type,
            at,
            f"摄像头故障 {cid} · {what}",
            tuple(fault_lines),
            f"{base}/#/cameras/{cid}",
            camera_id=cid,
            data=dict(event.data),
        )
    assert order is not None
    kind = _kind_label(town, order.kind)
    dep = _find_department(town, order.department_id)
    dep_name = dep.name if dep is not None else order.department_id
    lines: list[str] = []
    if trigger == "new_order":
        title = f"新工单 #{order.id} · {kind}" + (f" · {order.priority}" if order.priority else "")
        lines.append(f"处置部门: {dep_name}")
        worker = _worker_line(town, order)
        if worker:
            lines.append(worker)
        if order.place:
            lines.append(f"位置: {order.place}")
        desc = str(event.data.get("description") or "").strip()
        if desc:
            lines.append(f"描述: {desc[:120]}")
        due = (event.data.get("deadlines") or {}).get("acknowledge_by")
        if due:
            lines.append(f"确认时限: {_local(due, zone)}")
    elif trigger == "deadline_missed":
        stage = str(event.data.get("stage") or event.data.get("deadline") or "")
        title = f"督办 · 工单 #{order.id} 超时未{STAGES.get(stage, stage)}"
        lines.append(f"处置部门: {dep_name}")
        level = event.data.get("level") if event.type == "work_order.supervised" else "duty_lead"
        lines.append("督办对象: " + ("部门负责人" if level == "department_lead" else "值班长"))
        misses = event.data.get("misses")
        if isinstance(misses, int) and misses > 1:
            lines.append(f"第 {misses} 次超时")
        if kind:
            lines.append(f"事件: {kind}")
    else:  # verification_due
        title = f"待核查 · 工单 #{order.id} · {kind}"
        lines.append(f"{dep_name} 已反馈处置结果，请到现场核查")
        if order.place:
            lines.append(f"位置: {order.place}")
    data = {
        k: event.data[k]
        for k in ("id", "kind", "priority", "state", "action", "stage", "level", "misses", "deadline")
        if k in event.data
    }
    return Notice(
        trigger,
        event.id,
        event.type,
        at,
        title,
        tuple(lines),
        f"{base}/#/orders/{order.id}",
        order_id=order.id,
        data=data | {"department": order.department_id},
    )


def _kind_label(town: Town, kind: str) -> str:
    return next((s.name for s in town.services if s.kind == kind), kind)


def _worker_line(town: Town, order: OrderFacts) -> str:
    grid = next((g for g in town.grids if g.id == order.grid_id), None) if order.grid_id else None
    if grid is None:
        return ""
    return f"网格: {grid.name} (网格员 {grid.worker.name})"


def _local(iso: str, zone: ZoneInfo) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(zone).strftime("%m-%d %H:%M")
    except ValueError:
        return iso
