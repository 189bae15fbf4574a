"""GET /api/v1/stats: the evaluation figures as JSON, or the same figures as a CSV or XLSX download.

``group_by`` department | grid | worker | camera | source; ``from``/``to`` the period (orders created
in it; default the 30 days up to now); ``format`` json | csv | xlsx. A department token gets its own
department's orders only. What each figure means: :mod:`central.stats` and the README.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from central import stats
from central.api.contract import rfc3339
from central.api.deps import hub_of
from central.api.work_order_models import ERRORS
from central.api.work_orders import departments_of
from central.auth import Principal, require
from central.roles import DEPARTMENT, EVALUATORS

router = APIRouter(prefix="/api/v1", tags=["stats"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class GroupBy(StrEnum):
    DEPARTMENT = "department"
    GRID = "grid"
    WORKER = "worker"
    CAMERA = "camera"
    SOURCE = "source"


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


class StageFigures(BaseModel):
    completed: int = Field(description="Steps that completed the stage in the period's orders.")
    on_time: int = Field(description="Of those, done by the stage's deadline.")
    on_time_rate: float | None
    orders_timed: int = Field(description="Orders the stage's time was measured on.")
    median_s: float | None = Field(description="Median seconds per order spent on the stage.")
    p90_s: float | None = Field(description="90th percentile of the same.")


class GroupFigures(BaseModel):
    key: str | None = Field(description="The group's id (department, grid, worker, camera) or source.")
    name: str
    orders: int
    by_state: dict[str, int]
    stages: dict[str, StageFigures]
    reworks: int
    reworked_orders: int
    rework_rate: float | None = Field(description="Reworked orders / orders fed back at least once.")
    extensions_requested: int
    extensions_approved: int
    extensions_declined: int
    returns: int
    false_alarms: int = Field(description="Orders rejected as false alarms.")
    open_now: int
    overdue_now: int


class StatsOut(BaseModel):
    group_by: GroupBy
    from_: str = Field(alias="from", json_schema_extra={"format": "date-time"})
    to: str = Field(json_schema_extra={"format": "date-time"})
    generated_at: str = Field(json_schema_extra={"format": "date-time"})
    stages: list[str]
    groups: list[GroupFigures]

    model_config = {"populate_by_name": True}



def _days_before(t: datetime, days: int) -> datetime:
    """``days`` before ``t``, or the earliest time there is for a ``to`` in the first days of year 1
    (a valid date-time: the default period is then shorter, not an error)."""
    try:
        return t - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


@router.get(
    "/stats",
    response_model=StatsOut,
    response_model_by_alias=True,
    responses=ERRORS
    | {
        200: {
            "description": "The figures (JSON), or the same as CSV or XLSX with format=csv|xlsx.",
            "content": {"text/csv": {}, XLSX: {}},
        },
        422: {"description": "A bad period or parameter."},
    },
)
async def get_stats(
    request: Request,
    group_by: GroupBy = Query(GroupBy.DEPARTMENT, description="What to group the orders by."),
    start: str | None = Query(
        None, alias="from", description="Period start (RFC 3339); default: 30 days before to.",
        json_schema_extra={"format": "date-time"},
    ),
    end: str | None = Query(
        None, alias="to", description="Period end (RFC 3339, inclusive); default now.",
        json_schema_extra={"format": "date-time"},
    ),
    format: Format = Query(Format.JSON, description="json, or a csv / xlsx download of the same figures."),
    who: Principal = Depends(require(*EVALUATORS)),
) -> Any:
    hub = hub_of(request)
    now = hub.now()
    try:
        until = rfc3339(end) if end is not None else now
        since = rfc3339(start) if start is not None else _days_before(until, 30)
    except ValueError:
        raise HTTPException(422, "'from' and 'to' are RFC 3339 date-times, e.g. 2026-12-01T00:00:00+08:00") \
            from None
    start_t, end_t = since, until
    scope = departments_of(hub.town, who.department_id or "") if who.role == DEPARTMENT else None
    # a period that ends before it starts holds no orders (an empty answer, not an error)
    rows = await run_in_threadpool(stats.load, hub.db, start_t, end_t, scope) if start_t < end_t else []
    groups = stats.figures(hub.town, rows, group_by.value, now)
    if format is Format.JSON:
        return {
            "group_by": group_by.value,
            "from": start_t.isoformat(),
            "to": end_t.isoformat(),
            "generated_at": now.isoformat(),
            "stages": list(stats.STAGES),
            "groups": groups,
        }
    name = f"gridwatch-stats-{group_by.value}-{start_t:%Y%m%d}-{end_t:%Y%m%d}.{format.value}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}
    if format is Format.CSV:
        return Response(_csv(groups), media_type="text/csv; charset=utf-8", headers=disposition)
    body = await run_in_threadpool(_xlsx, groups, group_by.value, start_t, end_t)
    return Response(body, media_type=XLSX, headers=disposition)


def _csv(groups: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(stats.columns())
    for row in stats.table(groups):
        out.writerow(["" if v is None else v for v in row])
    return buf.getvalue()


def _xlsx(groups: list[dict[str, Any]], group_by: str, start: datetime, end: datetime) -> bytes:
    from openpyxl import Workbook  # the hub's extra; imported when a spreadsheet is asked for

    book = Workbook()
    sheet = book.active
    sheet.title = f"by {group_by}"
    sheet.append(stats.columns())
    for row in stats.table(groups):
        sheet.append(row)
    sheet.freeze_panes = "C2"
    about = book.create_sheet("period")
    about.append(["group_by", group_by])
    about.append(["from", start.isoformat()])
    about.append(["to", end.isoformat()])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
