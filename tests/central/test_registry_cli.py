"""``gridwatch config import/export`` (byte-identical round trip of the sample town, all or nothing) and
the camera ledger (``gridwatch cameras import`` and the console's upload): 280 rows, Chinese and English
headers, brand templates, every bad row reported and nothing half-imported."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from central import registry
from central.db import Database
from gridwatch.cli import main
from gridwatch.config import Town
from tests.central.conftest import SAMPLE, HubUnderTest

ZH = ["编号", "名称", "村", "网格", "经度", "纬度", "IP", "品牌", "通道", "账号", "密码引用", "节点"]
EN = ["id", "name", "village", "grid", "lon", "lat", "ip", "brand", "channel", "user", "password_ref", "node"]
BRANDS = ["海康威视", "dahua", "宇视"]


def ledger_rows(town: Town, n: int = 280) -> list[list[Any]]:
    """A made-up ledger of ``n`` cameras over the sample town's villages and nodes."""
    rows = []
    for i in range(n):
        village = town.villages[i % len(town.villages)]
        grid = next(g for g in town.grids if village.id in g.villages)
        rows.append(
            [
                f"led-{i + 1:03d}",
                f"{village.name} 路口 {i + 1}号",
                village.name if i % 2 else village.id,
                grid.id if i % 3 else "",
                round(village.lon + 0.001, 5),
                round(village.lat - 0.001, 5),
                f"10.{i // 250}.{i % 250}.{i % 7 + 10}",
                BRANDS[i % 3],
                1 + i % 4,
                "viewer",
                f"village-{village.id}",
                town.nodes[i % len(town.nodes)].id,
            ]
        )
    return rows


def xlsx(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


def test_config_round_trip_is_byte_identical(db_url: str, tmp_path: Path, capsys: Any) -> None:
    assert main(["config", "import", str(SAMPLE), "--db", db_url]) == 0
    out = tmp_path / "out"
    assert main(["config", "export", str(out), "--db", db_url]) == 0
    names = sorted(p.name for p in SAMPLE.glob("*.yaml"))
    assert sorted(p.name for p in out.iterdir()) == names
    for name in names:
        assert (out / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    # importing the same folder again changes nothing
    db = Database(db_url)
    try:
        rev = registry.revision(db)
        assert main(["config", "import", str(out), "--db", db_url]) == 0
        assert "0 cameras or sections changed" in capsys.readouterr().out
        assert registry.revision(db) == rev + 1
    finally:
        db.dispose()


def test_a_bad_folder_imports_nothing(db_url: str, tmp_path: Path, capsys: Any) -> None:
    assert main(["config", "import", str(SAMPLE), "--db", db_url]) == 0
    bad = tmp_path / "bad"
    shutil.copytree(SAMPLE, bad)
    text = (bad / "cameras.yaml").read_text(encoding="utf-8")
    (bad / "cameras.yaml").write_text(text.replace("grid: g-07", "grid: g-99", 1), encoding="utf-8")
    (bad / "villages.yaml").write_text(
        (bad / "villages.yaml").read_text(encoding="utf-8").replace("车溪村", "车溪"), encoding="utf-8"
    )
    assert main(["config", "import", str(bad), "--db", db_url]) == 2
    assert "cameras.yaml: cameras[0](cam-001).grid: unknown grid 'g-99'" in capsys.readouterr().err
    out = tmp_path / "out"
    assert main(["config", "export", str(out), "--db", db_url]) == 0
    assert (out / "villages.yaml").read_bytes() == (SAMPLE / "villages.yaml").read_bytes()


def test_ledger_of_280_cameras(town: Town, db_url: str, tmp_path: Path, capsys: Any) -> None:
    rows = ledger_rows(town)
    path = xlsx(tmp_path / "台账.xlsx", ZH, rows)
    assert main(["cameras", "import", str(path), "--db", db_url]) == 0, capsys.readouterr().err
    assert "280 cameras created" in capsys.readouterr().out
    db = Database(db_url)
    try:
        cams = {r.doc["id"]: r.doc for r in registry.list_cameras(db)[0]}
        assert len(cams) == 280 + 280
        hik, dahua, unv = cams["led-001"], cams["led-002"], cams["led-003"]
        assert hik["streams"] == {
            "main": "rtsp://viewer:{password}@10.0.0.10:554/Streaming/Channels/101",
            "sub": "rtsp://viewer:{password}@10.0.0.10:554/Streaming/Channels/102",
            "password_ref": f"village-{town.villages[0].id}",
        }
        assert dahua["streams"]["main"] == (
            "rtsp://viewer:{password}@10.0.1.11:554/cam/realmonitor?channel=2&subtype=0"
        )
        assert dahua["streams"]["sub"].endswith("channel=2&subtype=1")
        assert unv["streams"]["main"] == "rtsp://viewer:{password}@10.0.2.12:554/unicast/c3/s0/live"
        assert unv["streams"]["sub"].endswith("/unicast/c3/s1/live")
        assert hik["village"] == town.villages[0].id and dahua["village"] == town.villages[1].id  # by name
        assert dahua["device"] == {"brand": "dahua", "ip": "10.0.1.11", "channel": 2, "user": "viewer"}
        # regions drawn since are kept when the ledger is imported again (an updated IP)
        rec = registry.get_camera(db, "led-001")
        roi = [{"name": "road", "polygon": [[0.0, 0.5], [1.0, 0.5], [1.0, 1.0], [0.0, 1.0]]}]
        registry.patch_camera(
            db,
            registry.load(db),
            "led-001",
            {"rois": roi},
            rec.version,
            registry.Actor("m", "maintainer"),
            rec.updated_at,
        )
        rows[0][6] = "10.9.9.9"
        assert main(["cameras", "import", str(xlsx(tmp_path / "v2.xlsx", ZH, rows)), "--db", db_url]) == 0
        assert "0 cameras created, 1 updated, 279 unchanged" in capsys.readouterr().out
        again = registry.get_camera(db, "led-001").doc
        assert again["rois"] == roi and "10.9.9.9" in again["streams"]["main"]
    finally:
        db.dispose()


def test_bad_rows_are_each_reported_and_nothing_is_imported(
    town: Town, db_url: str, tmp_path: Path, capsys: Any
) -> None:
    rows = ledger_rows(town, 30)
    rows[3][4] = "东经117"  # row 5: not a number
    rows[9][2] = "无此村"  # row 11: unknown village
    rows[12][7] = "Axis"  # row 14: no template for the brand
    rows[20][0] = rows[19][0]  # row 22: the same id twice
    rows[25][10] = ""  # row 27: no secret named
    buf = io.StringIO()
    csv.writer(buf).writerows([EN, *rows])
    path = tmp_path / "ledger.csv"
    path.write_bytes(buf.getvalue().encode("utf-8-sig"))  # as Excel saves CSV
    db = Database(db_url)
    try:
        registry.seed(db, town, {}, registry.Actor("t", "admin"), town_now())
        rev = registry.revision(db)
        assert main(["cameras", "import", str(path), "--db", db_url]) == 1
        err = capsys.readouterr().err
        assert "5 of 30 rows have errors; nothing was imported" in err
        for expected in (
            "row 5, column lon: '东经117' is not a longitude",
            "row 11, column village: unknown village '无此村'",
            "row 14, column brand: no stream template for brand 'Axis'",
            "row 22, column id: camera 'led-020' is also on row 21",
            "row 27, column password_ref: empty: name the secret",
        ):
            assert expected in err, err
        assert registry.revision(db) == rev and len(registry.list_cameras(db)[0]) == 280
        # a custom template serves the other brand; a password column is refused outright
        rows = ledger_rows(town, 3)
        rows[0][7] = "Axis"
        path.write_text("\n".join(",".join(map(str, r)) for r in [EN, *rows]), encoding="utf-8")
        assert (
            main(
                [
                    "cameras",
                    "import",
                    str(path),
                    "--db",
                    db_url,
                    "--main-template",
                    "rtsp://{user}:{password}@{ip}/axis-media/media.amp",
                ]
            )
            == 0
        )
        assert registry.get_camera(db, "led-001").doc["streams"]["main"] == (
            "rtsp://viewer:{password}@10.0.0.10/axis-media/media.amp"
        )
        path.write_text(
            ",".join([*EN, "密码"]) + "\n" + ",".join(map(str, [*rows[0], "hunter2"])), encoding="utf-8"
        )
        assert main(["cameras", "import", str(path), "--db", db_url]) == 1
        assert "column 密码: passwords are not imported" in capsys.readouterr().err
    finally:
        db.dispose()


def test_ledger_upload_through_the_api(town: Town, hub: HubUnderTest, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "ledger.xlsx", EN, ledger_rows(town, 280))
    files = {
        "file": (
            "ledger.xlsx",
            path.read_bytes(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    }
    r = hub.client.post("/api/v1/registry/import", files=files, headers=hub.auth("dispatcher"))
    assert r.status_code == 403
    r = hub.client.post(
        "/api/v1/registry/import", files=files, data={"dry_run": "true"}, headers=hub.auth("maintainer")
    )
    assert r.status_code == 200 and r.json()["checked"] == 280 and r.json()["imported"] == 0
    r = hub.client.post("/api/v1/registry/import", files=files, headers=hub.auth("maintainer"))
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 280
    assert len(hub.hub.town.cameras) == 560 and "led-280" in hub.hub.cameras
    bad = ledger_rows(town, 5)
    bad[2][5] = 95.0
    files = {
        "file": ("bad.xlsx", xlsx(tmp_path / "bad.xlsx", ZH, bad).read_bytes(), "application/octet-stream")
    }
    r = hub.client.post("/api/v1/registry/import", files=files, headers=hub.auth("maintainer"))
    assert r.status_code == 422
    assert r.json()["errors"] == [{"row": 4, "column": "纬度", "reason": "'95' is not a latitude (-90..90)"}]


def town_now() -> Any:
    return datetime.now(UTC)


def test_onvif_columns_fill_the_cameras_onvif_section(town: Town, db_url: str, tmp_path: Path,
                                                      capsys: Any) -> None:
    rows = ledger_rows(town, 4)
    onvif = [["80", "是"], ["8000", ""], ["", ""], ["80", "否"]]
    path = xlsx(tmp_path / "onvif.xlsx", [*ZH, "ONVIF端口", "云台归位"],
                [[*r, *o] for r, o in zip(rows, onvif, strict=True)])
    assert main(["cameras", "import", str(path), "--db", db_url]) == 0, capsys.readouterr().err
    db = Database(db_url)
    try:
        doc = {i: registry.get_camera(db, f"led-00{i}").doc for i in range(1, 5)}
        secret = f"village-{town.villages[0].id}"
        assert doc[1]["onvif"] == {"host": "10.0.0.10", "port": 80, "user": "viewer", "password_ref": secret,
                                   "ptz_home_on_moved": True}
        assert doc[2]["onvif"] == {"host": "10.0.1.11", "port": 8000, "user": "viewer",
                                   "password_ref": f"village-{town.villages[1].id}"}  # the defaults
        assert "onvif" not in doc[3] or doc[3]["onvif"] is None
        assert doc[4]["onvif"]["ptz_home_on_moved"] is False
        # a ledger without the ONVIF columns keeps the registry's ONVIF settings
        path2 = xlsx(tmp_path / "plain.xlsx", ZH, rows)
        assert main(["cameras", "import", str(path2), "--db", db_url]) == 0, capsys.readouterr().err
        assert registry.get_camera(db, "led-001").doc["onvif"]["port"] == 80
        # bad cells: each reported, nothing imported
        rev = registry.revision(db)
        bad = [[*rows[0], "80000", "是"], [*rows[1][:9], "", *rows[1][10:], "80", ""],
               [*rows[2], "80", "maybe"]]
        path3 = xlsx(tmp_path / "bad.xlsx", [*ZH, "ONVIF端口", "云台归位"], bad)
        assert main(["cameras", "import", str(path3), "--db", db_url]) == 1
        err = capsys.readouterr().err
        for expected in ("row 2, column ONVIF端口: '80000' is not a port number",
                         "row 3, column 账号: empty",
                         "row 4, column 云台归位: 'maybe' is not yes/no"):
            assert expected in err, err
        assert registry.revision(db) == rev
    finally:
        db.dispose()
