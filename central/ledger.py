"""The camera ledger (台账) as maintainers keep it: a spreadsheet, one camera a row, into registry cameras.

Columns are found by their header, Chinese or English (``编号``/``id``, ``村``/``village``, ...); stream
URLs are built from the brand's template (Hikvision, Dahua, Uniview; any other brand with a template
given by the caller). Every row is checked and every problem reported with its row number, column and
reason; one bad row and nothing is imported (:class:`LedgerError`). Passwords are never read from a
ledger: a ``密码``/``password`` column is refused, the ledger names the secret (``密码引用``).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from central.registry import Invalid, check_camera
from gridwatch.config import Town
from gridwatch.config.schema import PASSWORD_PLACEHOLDER, SECRET_NAME

#: Field -> the headers it is known by (compared lower-cased, spaces removed).
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("编号", "摄像头编号", "设备编号", "id", "camera_id", "camera"),
    "name": ("名称", "点位名称", "设备名称", "name"),
    "village": ("村", "村名", "所属村", "自然村", "village"),
    "grid": ("网格", "所属网格", "grid"),
    "lon": ("经度", "lon", "lng", "longitude"),
    "lat": ("纬度", "lat", "latitude"),
    "ip": ("ip", "ip地址", "地址"),
    "brand": ("品牌", "厂商", "brand"),
    "channel": ("通道", "通道号", "channel"),
    "user": ("账号", "用户名", "user", "username"),
    "password_ref": ("密码引用", "password_ref", "secret"),
    "node": ("节点", "边缘节点", "node"),
    "road": ("道路", "路段", "road"),
    "model": ("型号", "model"),
    "main_url": ("主码流", "main_url", "main"),
    "sub_url": ("子码流", "sub_url", "sub"),
    "enabled": ("启用", "enabled"),
    # ONVIF: the device's service port on the row's IP, with the row's account and secret
    "onvif_port": ("onvif端口", "onvif_port", "onvif"),
    "ptz_home": ("云台归位", "ptz_home", "ptz_home_on_moved"),
}
REQUIRED = ("id", "name", "village", "lon", "lat", "node")
PASSWORD_HEADERS = ("密码", "password", "passwd", "pwd")

#: Brand (as ledgers write it) -> (main, sub) stream templates.
HIKVISION = ("rtsp://{user}:{password}@{ip}:554/Streaming/Channels/{channel}01",
             "rtsp://{user}:{password}@{ip}:554/Streaming/Channels/{channel}02")
DAHUA = ("rtsp://{user}:{password}@{ip}:554/cam/realmonitor?channel={channel}&subtype=0",
         "rtsp://{user}:{password}@{ip}:554/cam/realmonitor?channel={channel}&subtype=1")
UNIVIEW = ("rtsp://{user}:{password}@{ip}:554/unicast/c{channel}/s0/live",
           "rtsp://{user}:{password}@{ip}:554/unicast/c{channel}/s1/live")
BRANDS: dict[str, tuple[str, str]] = {
    "hikvision": HIKVISION, "hik": HIKVISION, "海康": HIKVISION, "海康威视": HIKVISION,
    "dahua": DAHUA, "大华": DAHUA,
    "uniview": UNIVIEW, "unv": UNIVIEW, "宇视": UNIVIEW,
}
TEMPLATE_FIELDS = ("user", "password", "ip", "channel")
#: A stream URL template: text with ``{field}`` for known fields only (as the upload's schema says).
TEMPLATE = r"^([^{}]|\{(" + "|".join(TEMPLATE_FIELDS) + r")\})*$"


@dataclass
class LedgerError(Exception):
    """The ledger cannot be imported; ``rows`` lists every problem as {row, column, reason}."""

    message: str
    rows: list[dict[str, Any]]

    def __str__(self) -> str:
        lines = [self.message] + [f"row {r['row']}, column {r['column']}: {r['reason']}" for r in self.rows]
        return "\n".join(lines)


def read_table(data: bytes, filename: str) -> list[list[Any]]:
    """The first sheet of an .xlsx, or a CSV (UTF-8, with or without BOM, or GB18030), as rows. A
    file named neither way is told by its content (an .xlsx is a ZIP archive)."""
    name = filename.lower()
    if not name.endswith((".xlsx", ".xlsm", ".csv")):
        name = ".xlsx" if data.startswith(b"PK\x03\x04") else ".csv"
    if name.endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:  # a broken or mislabelled file: openpyxl raises many kinds
            reason = f"{filename} is not a readable .xlsx workbook ({type(exc).__name__})"
            raise LedgerError(reason, []) from None
        try:
            return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise LedgerError(f"{filename} is neither UTF-8 nor GB18030 text", [])
    return [list(r) for r in csv.reader(io.StringIO(text))]


def parse_ledger(data: bytes, filename: str, town: Town, main_template: str | None = None,
                 sub_template: str | None = None,
                 existing: Mapping[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Camera documents for every row, or :class:`LedgerError` with every bad row. ``existing``:
    cameras already in the registry, whose regions and detection settings an import keeps."""
    return rows_to_cameras(read_table(data, filename), town, main_template, sub_template, existing or {})


def rows_to_cameras(table: list[list[Any]], town: Town, main_template: str | None, sub_template: str | None,
                    existing: Mapping[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [(n, r) for n, r in enumerate(table, start=1) if any(_text(v) for v in r)]
    if not rows:
        raise LedgerError("the ledger is empty", [])
    header_row, header = rows[0]
    columns, errors = _map_header(header, header_row)
    if errors:
        raise LedgerError("the ledger's header cannot be used", errors)
    for template, label in ((main_template, "main_template"), (sub_template, "sub_template")):
        if template is not None:
            _check_template(template, label)
    context = _Context(town, main_template, sub_template, existing, columns)
    docs: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, row in rows[1:]:
        values = {f: _text(row[i]) if i < len(row) else "" for f, (i, _) in columns.items()}
        doc, row_errors = context.camera(number, values)
        if doc is not None and doc["id"] in seen:
            row_errors.append(context.error(number, "id",
                                            f"camera {doc['id']!r} is also on row {seen[doc['id']]}"))
        if row_errors:
            errors.extend(row_errors)
        elif doc is not None:
            seen[doc["id"]] = number
            docs.append(doc)
    if errors:
        raise LedgerError(f"{len({e['row'] for e in errors})} of {len(rows) - 1} rows have errors; nothing "
                          "was imported", errors)
    return docs


def _map_header(header: list[Any], row: int) -> tuple[dict[str, tuple[int, str]], list[dict[str, Any]]]:
    known = {_key(h): f for f, hs in COLUMNS.items() for h in hs}
    columns: dict[str, tuple[int, str]] = {}
    errors = []
    for i, cell in enumerate(header):
        name = _text(cell)
        key = _key(name)
        if not key:
            continue
        if key in PASSWORD_HEADERS:
            errors.append({"row": row, "column": name, "reason": "passwords are not imported: keep them in "
                           "the edge's secrets file and give the secret's name in 密码引用/password_ref"})
        elif key in known:
            if known[key] in columns:
                errors.append({"row": row, "column": name,
                               "reason": f"a second column for {known[key]} ({columns[known[key]][1]})"})
            columns[known[key]] = (i, name)
    for field in REQUIRED:
        if field not in columns:
            errors.append({"row": row, "column": "/".join(COLUMNS[field][:1] + COLUMNS[field][-1:]),
                           "reason": "required column is missing"})
    return columns, errors


def _check_template(template: str, label: str) -> None:
    fields = set(re.findall(r"{(\w+)}", template))
    unknown = fields - set(TEMPLATE_FIELDS)
    if unknown:
        raise LedgerError(f"{label} {template!r} has unknown fields {sorted(unknown)} (known: "
                          f"{', '.join(TEMPLATE_FIELDS)})", [])


class _Context:
    def __init__(self, town: Town, main_template: str | None, sub_template: str | None,
                 existing: Mapping[str, dict[str, Any]], columns: dict[str, tuple[int, str]]) -> None:
        self.town, self.existing, self.columns = town, existing, columns
        self.main_template, self.sub_template = main_template, sub_template
        self.villages = {v.id: v.id for v in town.villages}
        for v in town.villages:  # by name too, when the name is unique
            if sum(1 for w in town.villages if w.name == v.name) == 1:
                self.villages.setdefault(v.name, v.id)
                self.villages.setdefault(v.name.removesuffix("村"), v.id)
        self.grids = {g.id: g.id for g in town.grids} | {g.name: g.id for g in town.grids}
        self.grid_of = {vid: g.id for g in town.grids for vid in g.villages}

    def error(self, row: int, field: str, reason: str) -> dict[str, Any]:
        column = self.columns[field][1] if field in self.columns else field
        return {"row": row, "column": column, "reason": reason}

    def camera(self, row: int, v: dict[str, str]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        errors: list[dict[str, Any]] = []
        failed: set[str] = set()

        def fail(field: str, reason: str) -> None:
            if field not in failed:  # one reason per cell: the first found
                failed.add(field)
                errors.append(self.error(row, field, reason))

        for field in REQUIRED:
            if not v.get(field):
                fail(field, "empty")
        village = self.villages.get(v.get("village", ""))
        if v.get("village") and village is None:
            fail("village", f"unknown village {v['village']!r} (an id such as v-chexi, or a village name)")
        grid = self.grids.get(v["grid"]) if v.get("grid") else self.grid_of.get(village or "")
        if v.get("grid") and grid is None:
            fail("grid", f"unknown grid {v['grid']!r}")
        lat, lon = _number(v.get("lat", ""), -90, 90), _number(v.get("lon", ""), -180, 180)
        if v.get("lat") and lat is None:
            fail("lat", f"{v['lat']!r} is not a latitude (-90..90)")
        if v.get("lon") and lon is None:
            fail("lon", f"{v['lon']!r} is not a longitude (-180..180)")
        if v.get("node") and self.town.node(v["node"]) is None:
            fail("node", f"unknown edge node {v['node']!r}")
        channel = v.get("channel") or "1"
        digits = channel.isascii() and channel.isdigit() and len(channel) <= 3
        if not digits or not 1 <= int(channel) <= 256:
            fail("channel", f"{channel!r} is not a channel number (1..256)")
            return None, errors
        streams = self._streams(v, fail)
        enabled = _yes_no(v, "enabled", fail)
        old = self.existing.get(v["id"], {})
        onvif = self._onvif(v, old, fail)
        if errors:
            return None, errors
        doc: dict[str, Any] = {"id": v["id"], "name": v["name"], "village": village, "grid": grid,
                               "node": v["node"], "lat": lat, "lon": lon}
        if v.get("road") or "road" in old:
            doc["road"] = v.get("road") or old["road"]
        doc["streams"] = streams
        doc["rois"] = old.get("rois", [])
        if enabled is not None or "enabled" in old:
            doc["enabled"] = enabled if enabled is not None else old["enabled"]
        device = {k: val for k, val in (("brand", v.get("brand", "")), ("ip", v.get("ip", "")),
                                       ("channel", int(channel)), ("user", v.get("user", "")),
                                       ("model", v.get("model", ""))) if val not in ("", None)}
        doc["device"] = device
        if "detection" in old:
            doc["detection"] = old["detection"]
        if onvif is not None:
            doc["onvif"] = onvif
        try:
            check_camera(self.town, doc)
        except Invalid as exc:
            for err in exc.detail:
                loc = [str(p) for p in err["loc"][1:]]
                field = {"streams": "main_url", "village": "village", "grid": "grid", "node": "node",
                         "name": "name", "id": "id", "lat": "lat", "lon": "lon",
                         "onvif": "onvif_port"}.get(loc[0], loc[0])
                errors.append(self.error(row, field, f"{'.'.join(loc)}: {err['msg']}"))
            return None, errors
        return doc, []

    def _onvif(self, v: dict[str, str], old: dict[str, Any], fail: Any) -> dict[str, Any] | None:
        """The camera's ``onvif`` section: from the row where the ledger has an ONVIF port column (an
        empty cell: no ONVIF), else what the registry has (as for regions)."""
        if "onvif_port" not in v:
            return old.get("onvif")  # type: ignore[no-any-return]
        text = v["onvif_port"]
        if not text:
            return None
        port = int(text) if text.isascii() and text.isdigit() and len(text) <= 5 else 0
        if not 1 <= port <= 65535:
            fail("onvif_port", f"{text!r} is not a port number (1..65535)")
        for field in ("ip", "user"):
            if not v.get(field):
                fail(field, "empty (needed for ONVIF)")
        doc: dict[str, Any] = {"host": v.get("ip", ""), "port": port, "user": v.get("user", "")}
        if v.get("password_ref"):
            doc["password_ref"] = v["password_ref"]
        home = _yes_no(v, "ptz_home", fail)
        if home is not None:
            doc["ptz_home_on_moved"] = home
        return doc

    def _streams(self, v: dict[str, str], fail: Any) -> dict[str, Any]:
        ref = v.get("password_ref", "")
        if ref and not re.match(SECRET_NAME, ref):
            fail("password_ref", f"{ref!r} is not a secret name (letters, digits, '_', '.', '-')")
        if v.get("main_url"):
            streams: dict[str, Any] = {"main": v["main_url"]}
            if v.get("sub_url"):
                streams["sub"] = v["sub_url"]
        else:
            templates = BRANDS.get(_key(v.get("brand", "")))
            if templates is None and self.main_template:
                templates = (self.main_template, self.sub_template or "")
            if templates is None:
                fail("brand", f"no stream template for brand {v.get('brand', '')!r} (known: hikvision/海康, "
                     "dahua/大华, uniview/宇视; give --main-template for others, or 主码流/main_url)")
                return {}
            channel = v.get("channel") or "1"
            ip = v.get("ip", "")
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                fail("ip", f"{ip!r} is not an IP address" if ip else "empty (needed to build the stream URL)")
                return {}
            if "{user}" in templates[0] and not v.get("user"):
                fail("user", "empty (the stream URL logs in with it)")
                return {}
            values = {"user": v.get("user", ""), "password": PASSWORD_PLACEHOLDER, "ip": ip,
                      "channel": channel}
            streams = {"main": templates[0].format(**values)}
            if templates[1]:
                streams["sub"] = templates[1].format(**values)
        if any(PASSWORD_PLACEHOLDER in u for u in streams.values()):
            if not ref:
                fail("password_ref", "empty: name the secret that holds this camera's password")
            streams["password_ref"] = ref
        elif ref:
            streams["password_ref"] = ref
        return streams


def _yes_no(v: dict[str, str], field: str, fail: Any) -> bool | None:
    """A yes/no cell (是/否, 启用/停用, 1/0, ...); None when empty."""
    text = v.get(field, "").lower()
    if not text:
        return None
    if text in ("1", "true", "yes", "y", "是", "启用"):
        return True
    if text not in ("0", "false", "no", "n", "否", "停用"):
        fail(field, f"{v[field]!r} is not yes/no (是/否)")
    return False


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value).strip()


def _key(header: str) -> str:
    return re.sub(r"\s", "", header.lower())


def _number(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if low <= value <= high else None
