"""Property tests (hypothesis) of what the outside world sends the hub and what people type into the
config: alert JSON (valid alerts mutated field by field), Open311 form posts, and town YAML (sample
sections mutated, and raw text garbled). The properties: the hub answers 2xx or a clear 4xx with a
JSON message, never a 5xx; the config loader returns a valid Town or raises ConfigError, never any
other exception.

Examples are derandomized (the same on every run) and bounded so the file runs in well under a minute.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from central.app import create_app
from central.settings import HubConfig
from gridwatch.config import ConfigError, Town, load_town
from gridwatch.wire import Alert, EventKind, Phase, stable_id
from tests.support.hub import SAMPLE_TOWN, make_token

FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# JSON values of every shape, small.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=80),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=8)
nasty_text = st.sampled_from([
    "", " ", "\x00", "'; DROP TABLE alerts; --", "<script>alert(1)</script>", "../../etc/passwd",
    "%2e%2e%2f", "cam-001\x00", "😀" * 40, "A" * 70, "9" * 400, "NaN", "-1", "1e309",
    "edge-01", "edge-02", "cam-001", "cam-021", "cam-999", "/9j/", "=="])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    root = tmp_path_factory.mktemp("fuzz")
    db = f"sqlite:///{root / 'hub.db'}"
    tokens = {"edge": make_token(db, "edge", node="edge-01"),
              "grid_worker": make_token(db, "grid_worker", name="gw-1")}
    cfg = HubConfig(db_url=db, media_dir=root / "media", watch_interval_s=0)
    app = create_app(load_town(SAMPLE_TOWN), cfg)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, tokens


def valid_alert(n: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return json.loads(Alert(
        id=stable_id("fuzz", n), event_id=stable_id("fuzz-ev", n), node_id="edge-01", camera_id="cam-001",
        kind=EventKind.ROAD_BLOCKAGE, phase=Phase.ONSET, seq=n, raised_at=now,
        started_at=now - timedelta(seconds=5),
        score=0.7, bbox=(0.1, 0.1, 0.5, 0.5), region="road", details={"a": 1}).model_dump_json())


@st.composite
def mutated_alerts(draw: st.DrawFn) -> dict[str, Any]:
    body = valid_alert(draw(st.integers(0, 10**6)))
    for _ in range(draw(st.integers(1, 4))):
        action = draw(st.sampled_from(["set", "drop", "add", "text", "snapshot", "times"]))
        key = draw(st.sampled_from(sorted(body) or ["id"]))
        if action == "set":
            body[key] = draw(json_values)
        elif action == "drop":
            body.pop(key, None)
        elif action == "add":
            body[draw(st.text(max_size=12))] = draw(json_values)
        elif action == "text":
            body[key] = draw(nasty_text | st.just("\ud800 lone surrogate"))
        elif action == "snapshot":
            raw = draw(st.sampled_from([b"\xff\xd8\xff" + draw(st.binary(max_size=200)) + b"\xff\xd9",
                                        draw(st.binary(max_size=300)), b"GIF89a" + b"\0" * 20]))
            body["snapshot_jpeg"] = draw(st.sampled_from([base64.b64encode(raw).decode(), "!!notbase64!!"]))
        else:
            body[draw(st.sampled_from(["raised_at", "started_at"]))] = draw(st.sampled_from(
                ["2026-13-45T99:99:99Z", "2026-11-26T08:00:00", "1970-01-01T00:00:00Z",
                 "9999-12-31T23:59:59Z",
                 "2026-11-26T08:00:00+14:00", "yesterday"]))
    return body


def assert_clear(resp: Any) -> None:
    assert resp.status_code < 500, f"{resp.status_code}: {resp.text[:300]}"
    if resp.status_code >= 400:
        payload = resp.json()  # a JSON message, never a traceback page
        text = json.dumps(payload)
        assert "Traceback" not in text
        if isinstance(payload, dict):
            assert payload.get("detail"), payload
        else:  # Open311's [{code, description}]
            assert payload and all("code" in e and "description" in e for e in payload), payload


@settings(FUZZ, max_examples=200)
@given(body=mutated_alerts())
def test_fuzzed_alerts_get_2xx_or_a_clear_4xx(hub: tuple[TestClient, dict[str, str]],
                                              body: dict[str, Any]) -> None:
    client, tokens = hub
    # json.dumps escapes non-ASCII, so a lone surrogate (\ud800) can travel as a JSON escape.
    resp = client.post("/api/v1/alerts", content=json.dumps(body), headers={
        "Authorization": f"Bearer {tokens['edge']}", "Content-Type": "application/json"})
    assert_clear(resp)
    if resp.status_code in (200, 201):
        assert resp.json()["alert_id"] == body["id"]


@settings(FUZZ, max_examples=60)
@given(raw=st.binary(max_size=400) | st.text(max_size=200).map(str.encode))
def test_fuzzed_alert_bytes_get_a_clear_4xx(hub: tuple[TestClient, dict[str, str]], raw: bytes) -> None:
    client, tokens = hub
    resp = client.post("/api/v1/alerts", content=raw, headers={
        "Authorization": f"Bearer {tokens['edge']}", "Content-Type": "application/json"})
    assert_clear(resp)
    assert resp.status_code >= 400


OPEN311_FIELDS = ["api_key", "service_code", "lat", "long", "address_string", "description", "media_url",
                  "email", "device_id", "account_id", "first_name", "attribute[x]"]


@st.composite
def open311_forms(draw: st.DrawFn) -> tuple[dict[str, str], bytes | None]:
    form: dict[str, str] = {}
    if draw(st.booleans()):
        form["api_key"] = "GOOD"
    for name in draw(st.lists(st.sampled_from(OPEN311_FIELDS), max_size=6, unique=True)):
        form[name] = draw(nasty_text | st.text(max_size=60) | st.sampled_from(
            ["landslide", "road_blockage", "29.03", "117.2", "91", "-181", "inf", "nan", "1e400",
             "http://x.example/a.jpg", "javascript:alert(1)", "x" * 5000]))
    media = draw(st.none() | st.binary(max_size=300) |
                 st.just(b"\xff\xd8\xff\xe0" + b"\0" * 100 + b"\xff\xd9"))
    return form, media


@settings(FUZZ, max_examples=120)
@given(case=open311_forms())
def test_fuzzed_open311_posts_get_2xx_or_a_clear_4xx(hub: tuple[TestClient, dict[str, str]],
                                                     case: tuple[dict[str, str], bytes | None]) -> None:
    client, tokens = hub
    form, media = case
    if form.get("api_key") == "GOOD":
        form["api_key"] = tokens["grid_worker"]
    files = {"media": ("photo.jpg", media, "image/jpeg")} if media is not None else None
    resp = client.post("/open311/v2/requests.json", data=form, files=files)
    assert_clear(resp)


# -- the config loader ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_sections() -> dict[str, Any]:
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(SAMPLE_TOWN.glob("*.yaml"))}


def paths_of(node: Any, prefix: tuple[Any, ...] = (), depth: int = 0) -> list[tuple[Any, ...]]:
    """Every key path in a YAML tree (lists sampled: first, second and last item only)."""
    out = [prefix] if prefix else []
    if depth > 6:
        return out
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths_of(v, (*prefix, k), depth + 1)
    elif isinstance(node, list) and node:
        for i in sorted({0, min(1, len(node) - 1), len(node) - 1}):
            out += paths_of(node[i], (*prefix, i), depth + 1)
    return out


def set_path(tree: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    parent = tree
    for k in path[:-1]:
        parent = parent[k]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


yaml_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=True)
    | st.text(max_size=30) | nasty_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_fuzzed_config_sections_give_a_town_or_a_config_error(
        sample_sections: dict[str, Any], tmp_path: Path, data: st.DataObject) -> None:
    town = copy.deepcopy(sample_sections)
    section = data.draw(st.sampled_from(sorted(town)))
    paths = paths_of(town[section])
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["set", "delete", "whole"]))
        if action == "whole" or not paths:
            town[section] = data.draw(yaml_values)
            break
        path = data.draw(st.sampled_from(paths))
        try:
            set_path(town[section], path, data.draw(yaml_values), delete=action == "delete")
        except (KeyError, IndexError, TypeError):
            break  # an earlier change removed this path
    file = tmp_path / "town.yaml"
    file.write_text(yaml.dump(town, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), allow_unicode=True),
                    encoding="utf-8")
    try:
        result = load_town(file)
    except ConfigError as exc:
        assert str(exc) and "Traceback" not in str(exc)
    else:
        assert isinstance(result, Town)


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_garbled_config_text_gives_a_config_error(tmp_path: Path, data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(p.name for p in SAMPLE_TOWN.glob("*.yaml"))))
    text = (SAMPLE_TOWN / name).read_bytes()
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.binary(max_size=40) | st.sampled_from(
        [b"\t", b": : :", b"- [", b"{", b"&a *a", b"!!python/object:os.system ls", b"\xff\xfe", b"\x00"]))
    town_dir = tmp_path / "town"
    town_dir.mkdir(exist_ok=True)
    for p in SAMPLE_TOWN.glob("*.yaml"):
        (town_dir / p.name).write_bytes(p.read_bytes())
    (town_dir / name).write_bytes(text[:cut] + junk + text[cut:])
    try:
        result = load_town(town_dir)
    except ConfigError as exc:
        assert str(exc)
    else:
        assert isinstance(result, Town)


@pytest.mark.parametrize("key", ["region", "camera_id", "node_id", "id", "kind"])
def test_lone_surrogate_is_a_clear_4xx_not_a_500(hub: tuple[TestClient, dict[str, str]], key: str) -> None:
    """Found by the fuzzer: "\\ud800" is a legal JSON escape but no UTF-8 text; echoing it in a 422,
    or storing it, raised UnicodeEncodeError -> 500."""
    client, tokens = hub
    body = valid_alert(hash(key) % 10**6)
    body[key] = "\ud800 x"
    resp = client.post("/api/v1/alerts", content=json.dumps(body), headers={
        "Authorization": f"Bearer {tokens['edge']}", "Content-Type": "application/json"})
    assert_clear(resp)
    assert 400 <= resp.status_code < 500


@pytest.mark.postgres
def test_lone_surrogate_on_postgres_is_a_clear_4xx(postgres_server: Any, tmp_path: Path) -> None:
    """The same, where the text reaches PostgreSQL: an alert's region and a work-order note."""
    db = postgres_server.create_database()
    edge, admin = make_token(db, "edge", node="edge-01"), make_token(db, "admin", name="admin-1")
    cfg = HubConfig(db_url=db, media_dir=tmp_path / "m", watch_interval_s=0)
    app = create_app(load_town(SAMPLE_TOWN), cfg)
    with TestClient(app, raise_server_exceptions=False) as client:
        body = valid_alert(1)
        ok = client.post("/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {edge}"})
        assert ok.status_code == 201, ok.text
        body = valid_alert(2) | {"region": "\ud800 x", "camera_id": "cam-002"}
        resp = client.post("/api/v1/alerts", content=json.dumps(body), headers={
            "Authorization": f"Bearer {edge}", "Content-Type": "application/json"})
        assert_clear(resp)
        note = client.post(f"/api/v1/work-orders/{ok.json()['work_order_id']}/actions",
                           content=json.dumps({"action": "acknowledge", "note": "\ud800"}),
                           headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"})
        assert_clear(note)
