"""Generate the sample town ``configs/yongshan/`` deterministically.

Yongshan (涌山镇, Leping, Jiangxi) is real, and so are the names the town's own reports give: five
villages, the Jinxi river, four roads, and the two departments of the landslide example. Everything
else (the other 94 villages, the grids and their workers, the cameras, coordinates and stream URLs)
is invented sample data, marked ``sample: true``. Run ``python configs/generate_yongshan.py`` to
rebuild the committed files; the same seed always gives the same town.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import yaml

from gridwatch.config.notifications import NotificationSettings
from gridwatch.config.writer import write_folder

SEED = 20261126
CENTER = (29.0300, 117.2500)  # approximate; sample coordinates are scattered around it
N_VILLAGES, N_GRIDS, N_CAMERAS, CAMERAS_PER_NODE = 99, 57, 280, 20

REAL_VILLAGES = [
    ("v-yongshan", "涌山村", "Yongshan"),
    ("v-chexi", "车溪村", "Chexi"),
    ("v-shitan", "石潭村", "Shitan"),
    ("v-zhangjiadian", "张家店村", "Zhangjiadian"),
    ("v-shaotian", "稍田村", "Shaotian"),
]
FIRST = "上下东西南北大小新老前后高低中"
SECOND = "坪湾塘岭坑源田桥溪坞山垄埠畈洲"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["建国", "海燕", "志强", "秀英", "伟", "芳", "军", "丽", "勇", "静", "磊", "敏", "涛", "娟", "斌"]
MAIN_ROADS = ["涌厚路", "塔荷路", "S205省道", "湘官公路"]
TOWN_ROADS = ["东一路", "东二路", "东三路", "南一路", "南二路", "南三路", "环镇路"]

ROAD_FLAT = [[0.0, 0.55], [1.0, 0.55], [1.0, 1.0], [0.0, 1.0]]
ROAD_WITH_SLOPE = [[0.25, 0.5], [1.0, 0.5], [1.0, 1.0], [0.1, 1.0]]
SLOPE_LEFT = [[0.0, 0.2], [0.25, 0.5], [0.1, 1.0], [0.0, 1.0]]


def build(seed: int = SEED) -> dict[str, Any]:
    rng = random.Random(seed)
    villages = _villages(rng)
    grids = _grids(rng, villages)
    departments = _departments(grids)
    cameras, nodes = _cameras(rng, villages, grids)
    return {
        "town": {
            "name": "涌山镇", "name_en": "Yongshan", "city": "乐平市", "province": "江西省",
            "timezone": "Asia/Shanghai", "center": list(CENTER), "sample_data": True,
        },
        "villages": villages,
        "grids": grids,
        "departments": departments,
        "services": SERVICES,
        "routing": ROUTING,
        "deadlines": DEADLINES,
        "nodes": nodes,
        "cameras": cameras,
        "detection": {},
        "edge": {},
        "hub": {},
    }


def _villages(rng: random.Random) -> list[dict[str, Any]]:
    names = [f + s for f in FIRST for s in SECOND]
    rng.shuffle(names)
    out = []
    for i in range(N_VILLAGES):
        if i < len(REAL_VILLAGES):
            vid, name, name_en = REAL_VILLAGES[i]
            sample = False
        else:
            name = names.pop() + "村"
            vid, name_en, sample = f"v-{i + 1:03d}", f"Sample village {i + 1:03d}", True
        lat = CENTER[0] + (0 if i == 0 else rng.uniform(-0.06, 0.06))
        lon = CENTER[1] + (0 if i == 0 else rng.uniform(-0.07, 0.07))
        out.append({"id": vid, "name": name, "name_en": name_en, "lat": round(lat, 5),
                    "lon": round(lon, 5), "sample": sample})
    return out


def _grids(rng: random.Random, villages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # 42 grids of two villages and 15 of one: every village in exactly one grid.
    ids = [v["id"] for v in villages]
    doubles = N_VILLAGES - N_GRIDS
    out, pos = [], 0
    for g in range(N_GRIDS):
        take = 2 if g < doubles else 1
        members = ids[pos:pos + take]
        pos += take
        person = rng.choice(SURNAMES) + rng.choice(GIVEN)
        out.append({
            "id": f"g-{g + 1:02d}",
            "name": f"第{g + 1}网格",
            "villages": members,
            "worker": {"id": f"w-{g + 1:02d}", "name": person, "phone": f"555-01{g + 1:02d}"},
        })
    return out


def _departments(grids: list[dict[str, Any]]) -> list[dict[str, Any]]:
    gids = [g["id"] for g in grids]
    third = (len(gids) + 2) // 3
    squads = [
        {"id": f"le-squad-{n + 1}", "name": f"综合行政执法局第{'一二三'[n]}中队",
         "name_en": f"Law-enforcement squad {n + 1}", "kind": "squad", "parent": "law-enforcement",
         "grids": gids[n * third:(n + 1) * third]}
        for n in range(3)
    ]
    return [
        {"id": "natural-resources", "name": "自然资源规划与服务中心",
         "name_en": "Natural resources planning and service centre", "kind": "desk",
         "notify": ["wecom-natural-resources"]},
        {"id": "urban-management", "name": "城市管理", "name_en": "Urban management", "kind": "desk"},
        {"id": "governance-petitions", "name": "综治信访",
         "name_en": "Comprehensive governance and petitions", "kind": "desk"},
        {"id": "environment", "name": "生态环境保护", "name_en": "Environmental protection", "kind": "desk"},
        {"id": "law-enforcement", "name": "综合行政执法局",
         "name_en": "Comprehensive law-enforcement bureau", "kind": "bureau"},
        *squads,
        {"id": "duty-lead", "name": "指挥调度中心值班长", "name_en": "Dispatch centre duty lead",
         "kind": "lead", "notify": ["dingtalk-duty"]},
        {"id": "camera-maintenance", "name": "视频运维", "name_en": "Camera maintenance",
         "kind": "maintenance"},
    ]


SERVICES = [
    {"code": "landslide", "name": "山体滑坡", "description": "Slope collapse, rocks or mud on a road",
     "kind": "landslide", "group": "自然资源"},
    {"code": "road_blockage", "name": "道路阻断", "description": "Road blocked by debris, a fallen tree "
     "or a stalled vehicle", "kind": "road_blockage", "group": "道路"},
    {"code": "flooding", "name": "道路积水", "description": "Water standing on a road",
     "kind": "flooding", "group": "道路"},
    {"code": "road_damage", "name": "道路破损", "description": "Potholes, broken surface or kerb",
     "kind": "road_damage", "group": "道路"},
    {"code": "illegal_dumping", "name": "乱倒垃圾", "description": "Rubbish or waste dumped",
     "kind": "illegal_dumping", "group": "环境"},
    {"code": "pollution", "name": "环境污染", "description": "Water, air or soil pollution",
     "kind": "pollution", "group": "环境"},
    {"code": "illegal_construction", "name": "违章建筑", "description": "Building without a permit",
     "kind": "illegal_construction", "group": "执法"},
    {"code": "dispute", "name": "矛盾纠纷", "description": "Neighbourhood dispute or petition",
     "kind": "dispute", "group": "综治"},
    {"code": "other", "name": "其他", "description": "Anything else", "kind": "other", "group": "其他"},
]

FAULTS = ["camera_offline", "camera_frozen", "camera_blurred", "camera_occluded", "camera_moved",
          "camera_too_dark", "camera_overexposed"]
ROUTING = [
    {"kind": "landslide", "department": "natural-resources", "priority": "P1"},
    {"kind": "road_blockage", "department": "law-enforcement", "priority": "P2"},
    {"kind": "flooding", "department": "urban-management", "priority": "P1"},
    {"kind": "road_damage", "department": "urban-management", "priority": "P3"},
    {"kind": "illegal_dumping", "department": "environment", "priority": "P3"},
    {"kind": "pollution", "department": "environment", "priority": "P2"},
    {"kind": "illegal_construction", "department": "law-enforcement", "priority": "P3"},
    {"kind": "dispute", "department": "governance-petitions", "priority": "P3"},
    {"kind": "other", "department": "governance-petitions", "priority": "P3"},
    *({"kind": k, "department": "camera-maintenance", "priority": "P3", "work_order": False,
       "notify_grid_worker": False} for k in FAULTS),
]

DEADLINES = [
    {"priority": "P1", "acknowledge_min": 5, "arrive_min": 30, "close_min": 240},
    {"priority": "P1", "kind": "landslide", "acknowledge_min": 5, "arrive_min": 30, "close_min": 480},
    {"priority": "P2", "acknowledge_min": 15, "arrive_min": 120, "close_min": 1440},
    {"priority": "P3", "acknowledge_min": 60, "arrive_min": 1440, "close_min": 4320},
]


def _cameras(rng: random.Random, villages: list[dict[str, Any]], grids: list[dict[str, Any]]
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    grid_of = {vid: g["id"] for g in grids for vid in g["villages"]}
    # Every village gets at least one camera; the town seat and the real villages get more.
    counts = {v["id"]: 1 for v in villages}
    extra = N_CAMERAS - len(villages)
    counts["v-yongshan"] += 60
    extra -= 60
    for vid, *_ in REAL_VILLAGES[1:]:
        counts[vid] += 8
        extra -= 8
    others = [v["id"] for v in villages[len(REAL_VILLAGES):]]
    for _ in range(extra):
        counts[rng.choice(others)] += 1
    # Walk villages west to east so each node's cameras are neighbours.
    ordered = sorted(villages, key=lambda v: (v["lon"], v["lat"]))
    cameras = []
    for v in ordered:
        for k in range(counts[v["id"]]):
            n = len(cameras) + 1
            if v["id"] == "v-yongshan":
                road = rng.choice(MAIN_ROADS[:2] + TOWN_ROADS)
                hillside = False
            elif v["id"] == "v-chexi" and k < 3:
                road, hillside = "锦溪河沿河路", True
            else:
                road = rng.choice(MAIN_ROADS + [f"{v['name']}村道"] * 3)
                hillside = rng.random() < 0.45
            rois = [{"name": "road", "polygon": ROAD_WITH_SLOPE if hillside else ROAD_FLAT}]
            if hillside:
                rois.append({"name": "slope", "polygon": SLOPE_LEFT})
            host = f"cam-{n:03d}.cams.yongshan.example"
            cameras.append({
                "id": f"cam-{n:03d}",
                "name": f"{v['name']} {road} {k + 1}号",
                "village": v["id"],
                "grid": grid_of[v["id"]],
                "node": f"edge-{(n - 1) // CAMERAS_PER_NODE + 1:02d}",
                "lat": round(v["lat"] + rng.uniform(-0.004, 0.004), 5),
                "lon": round(v["lon"] + rng.uniform(-0.004, 0.004), 5),
                "road": road,
                # The password is a secret the edge holds (--secrets, or $GRIDWATCH_SECRET_<NAME>).
                "streams": {"main": f"rtsp://viewer:{{password}}@{host}:554/Streaming/Channels/101",
                            "sub": f"rtsp://viewer:{{password}}@{host}:554/Streaming/Channels/102",
                            "password_ref": "yongshan-viewer"},
                "rois": rois,
            })
    n_nodes = (len(cameras) + CAMERAS_PER_NODE - 1) // CAMERAS_PER_NODE
    nodes = [{"id": f"edge-{i + 1:02d}", "name": f"边缘节点{i + 1:02d} (sample)"} for i in range(n_nodes)]
    return cameras, nodes


# Written as text (not from a dict) to keep its comments: it is the example README points to.
NOTIFICATIONS = """\
# Outbound notifications (README, "Notifications"). Every channel is off in the sample: turn one on
# with enabled: true and set the environment variables it names. Secrets never go in this file:
# url_env and secret_env name environment variables the hub reads when it starts.
console_url: http://127.0.0.1:8000          # messages link to <console_url>/#/orders/<id>
channels:
  - name: ops-webhook                       # JSON POST, signed: X-Gridwatch-Signature: sha256=<hex>
    type: webhook
    enabled: false
    url: http://127.0.0.1:9000/gridwatch
    secret_env: GRIDWATCH_WEBHOOK_SECRET
    group_wait_s: 10                        # a burst to one recipient within 10 s: one message
  - name: wecom-natural-resources           # the natural-resources desk's WeCom group robot
    type: wecom                             # (departments.yaml: notify: [wecom-natural-resources])
    enabled: false
    url_env: GRIDWATCH_WECOM_NATURAL_RESOURCES_URL   # https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...
  - name: dingtalk-duty                     # the duty lead's DingTalk group robot, signed
    type: dingtalk
    enabled: false
    url_env: GRIDWATCH_DINGTALK_DUTY_URL    # https://oapi.dingtalk.com/robot/send?access_token=...
    secret_env: GRIDWATCH_DINGTALK_DUTY_SECRET
  - name: sms                               # an SMS gateway called through a template
    type: sms
    enabled: false
    url: http://127.0.0.1:9001/sms/send
    method: POST
    secret_env: GRIDWATCH_SMS_KEY
    headers: {Authorization: "Bearer ${secret}"}
    body: '{"to": "${phone}", "content": "${text}", "ref": "${delivery_id}"}'
    body_encoding: json
    group_wait_s: 30
routes:                                     # event -> who (-> channels besides their own)
  new_order: {department: [ops-webhook], grid_worker: [ops-webhook, sms]}
  deadline_missed: {lead: [ops-webhook]}    # department lead or duty lead, as the notice says
  camera_fault: {maintenance: [ops-webhook]}
  verification_due: {grid_worker: [ops-webhook, sms]}
retry: {first_s: 5, max_s: 600, max_attempts: 20}
"""


def write(town: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    header = "# Generated by configs/generate_yongshan.py; sample data where marked. Do not edit by hand.\n"
    # notifications.yaml is written in the same form as the others (the hub's export writes it back
    # byte for byte); what each key means is in the README ("Notifications") and the schema.
    # (as the validated model writes it, so that it reads back the same: floats as floats, schema order)
    notifications = NotificationSettings.model_validate(yaml.safe_load(NOTIFICATIONS))
    sections = town | {"notifications": notifications.model_dump(mode="json", exclude_unset=True)}
    headers = dict.fromkeys(sections, header)
    headers["notifications"] = header + "".join(
        line + "\n" for line in NOTIFICATIONS.splitlines() if line.startswith("#"))
    write_folder(out, sections, headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "yongshan")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    write(build(args.seed), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
