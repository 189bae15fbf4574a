"""Hostile input and security of a real hub process (uvicorn on 127.0.0.1, SQLite), plus an edge
worker's log: nothing escapes the media folder, text with SQL or HTML comes back literally, tokens
are stored hashed, responses carry the security headers, CORS stays closed, no secret reaches a log.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from central.app import create_app
from central.settings import HubConfig
from gridwatch.config import load_town
from gridwatch.wire import Alert, EventKind, Phase, stable_id
from tests.edge.procs import EdgeProcess, wait_for
from tests.support.hub import SAMPLE_TOWN, HubProcess, make_token

pytestmark = pytest.mark.slow
SQL = "'; DROP TABLE work_orders; --"
HTML = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
CSP_MUST = ["default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]


def jpeg_b64() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (10, 120, 60)).save(buf, "JPEG")
    return base64.b64encode(buf.getvalue()).decode()


class LiveHub:
    def __init__(self, root: Path) -> None:
        self.db_file = root / "hub.db"
        self.media = root / "media"
        self.url_db = f"sqlite:///{self.db_file}"
        self.tokens = {r: make_token(self.url_db, r, name=f"{r}-1")
                       for r in ("admin", "dispatcher", "grid_worker")}
        self.tokens["edge-01"] = make_token(self.url_db, "edge", node="edge-01")
        (root / "secret.txt").write_text("TOP-SECRET-NEXT-TO-MEDIA")  # what a path trick would want
        # with its access log on, so that requests carrying secrets in their URL are logged at all
        self.proc = HubProcess(db_url=self.url_db, media_dir=self.media, extra_args=("--access-log",)).start()
        self.url = self.proc.url

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def raw_get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        """GET with the path sent byte for byte (no client-side normalising of ../ or %2F)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.proc.port, timeout=10)
        try:
            conn.putrequest("GET", path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                conn.putheader(k, v)
            conn.endheaders()
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveHub]:
    hub = LiveHub(tmp_path_factory.mktemp("security"))
    yield hub
    hub.proc.stop()


def test_media_path_tricks_never_escape(live: LiveHub) -> None:
    now = datetime.now(UTC)
    body = Alert(id=stable_id("media", 1), event_id=stable_id("media-ev", 1), node_id="edge-01",
                 camera_id="cam-001", kind=EventKind.LANDSLIDE, phase=Phase.ONSET, seq=0,
                 raised_at=now, started_at=now, score=0.9,
                 snapshot_jpeg=jpeg_b64()).model_dump_json()
    r = httpx.post(live.url + "/api/v1/alerts", content=body,
                   headers={**live.auth("edge-01"), "Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    real = next(live.media.glob("*.jpg")).name
    ok, data = live.raw_get(f"/api/v1/media/{real}", live.auth("dispatcher"))
    assert ok == 200 and data[:3] == b"\xff\xd8\xff"  # the real file is served
    tricks = ["../secret.txt", "..%2Fsecret.txt", "..%2fsecret.txt", "%2E%2E%2Fsecret.txt",
              "%252E%252E%252Fsecret.txt", "..%5Csecret.txt", "/etc/passwd", "%2Fetc%2Fpasswd",
              "..%2F..%2F..%2Fetc%2Fpasswd", f"{real}%00.txt", f"..%2Fmedia%2F{real}",
              "....%2F%2Fsecret.txt", "%2e%2e/%2e%2e/hub.db", "..%2Fhub.db", "hub.db", ".",
              "..", f"{real[:-4]}.JPG", f"{real}/..", f"./{real}"]
    answers = {}
    for trick in tricks:
        for path in (f"/api/v1/media/{trick}", f"/api/v1/media/{trick}?token={live.tokens['dispatcher']}"):
            status, data = live.raw_get(path, live.auth("dispatcher"))
            answers[path] = status
            assert b"TOP-SECRET" not in data and b"SQLite format" not in data and b"root:" not in data
            assert status in (400, 404, 405, 422), f"{path} answered {status}"
    # Whatever the hub wrote is inside the media folder, under names it made.
    for p in live.media.iterdir():
        assert re.fullmatch(r"[0-9a-f]{32}\.(jpg|mp4)", p.name), p


def test_sql_and_html_text_is_stored_and_returned_literally(live: LiveHub) -> None:
    form = {"api_key": live.tokens["grid_worker"], "service_code": "landslide",
            "lat": "29.03", "long": "117.21", "description": f"{SQL} {HTML} {IMG} 路面塌方"}
    services = httpx.get(live.url + "/open311/v2/services.json").json()
    form["service_code"] = services[0]["service_code"]
    r = httpx.post(live.url + "/open311/v2/requests.json", data=form)
    assert r.status_code in (200, 201), r.text
    rid = r.json()[0]["service_request_id"]
    got = httpx.get(f"{live.url}/open311/v2/requests/{rid}.json").json()[0]
    assert got["description"] == form["description"]
    wo = httpx.get(f"{live.url}/api/v1/work-orders/{rid}", headers=live.auth("dispatcher")).json()
    assert wo["description"] == form["description"]
    act = httpx.post(f"{live.url}/api/v1/work-orders/{rid}/actions", headers=live.auth("dispatcher"),
                     json={"action": "acknowledge", "note": f"{HTML} {SQL}"})
    assert act.status_code == 200, act.text
    again = httpx.get(f"{live.url}/api/v1/work-orders/{rid}", headers=live.auth("dispatcher")).json()
    assert any(h["note"] == f"{HTML} {SQL}" for h in again["history"])
    con = sqlite3.connect(f"file:{live.db_file}?mode=ro", uri=True)
    try:  # the table is still there, and the text sits in it unchanged
        assert con.execute("SELECT description FROM work_orders WHERE id = ?", (int(rid),)).fetchone()[0] \
            == form["description"]
    finally:
        con.close()


def test_console_builds_text_with_textcontent_never_innerhtml() -> None:
    static = Path(__file__).resolve().parents[2] / "central" / "console" / "static"
    scripts = list(static.rglob("*.js"))
    assert scripts, "the console's scripts were not found"
    sinks = re.compile(r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(|"
                       r"new Function\(")
    bad = [f"{p.name}:{n}" for p in scripts for n, line in enumerate(p.read_text().splitlines(), 1)
           if sinks.search(line)]
    assert not bad, f"HTML sinks in the console: {bad}"
    assert any("textContent" in p.read_text() for p in scripts)
    for page in static.glob("*.html"):  # no inline script or handler that the CSP would have to allow
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script in {page.name}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler in {page.name}"


def test_tokens_are_hashed_at_rest(live: LiveHub) -> None:
    con = sqlite3.connect(f"file:{live.db_file}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT token_sha256 FROM tokens").fetchall()
    finally:
        con.close()
    assert len(rows) >= 4 and all(re.fullmatch(r"[0-9a-f]{64}", r[0]) for r in rows)
    raw = b"".join(p.read_bytes() for p in live.db_file.parent.glob("hub.db*"))  # file, WAL, SHM
    for token in live.tokens.values():
        assert token.encode() not in raw, "a plaintext token is in the database files"


def test_security_headers_and_csp(live: LiveHub) -> None:
    paths = ["/login", "/api/v1/town", "/healthz", "/open311/v2/services.json", "/api/v1/nope",
             "/console/static/js/app.js"]
    for path in paths:
        r = httpx.get(live.url + path, headers=live.auth("dispatcher"))
        assert r.status_code < 500, path
        h = r.headers
        csp = h.get("content-security-policy", "")
        assert all(part in csp for part in CSP_MUST), f"{path}: CSP {csp!r}"
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
        assert h.get("x-content-type-options") == "nosniff", path
        assert h.get("referrer-policy") == "no-referrer", path
        assert h.get("x-frame-options") == "DENY", path
        assert "camera=()" in h.get("permissions-policy", ""), path
    big = httpx.post(live.url + "/api/v1/alerts", content=b"x" * 13_000_000, headers=live.auth("edge-01"))
    assert big.status_code == 413 and big.headers.get("x-frame-options") == "DENY"


def test_cors_is_closed(live: LiveHub) -> None:
    cases = (("/api/v1/alerts", "POST"), ("/api/v1/work-orders", "GET"), ("/api/v1/session", "POST"))
    for path, method in cases:
        pre = httpx.options(live.url + path, headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type"})
        assert "access-control-allow-origin" not in pre.headers, path
        assert "access-control-allow-credentials" not in pre.headers, path
        real = httpx.get(live.url + path,
                         headers={"Origin": "https://evil.example", **live.auth("dispatcher")})
        assert "access-control-allow-origin" not in real.headers, path


def test_cors_opens_only_for_listed_origins(tmp_path: Path) -> None:
    town = load_town(SAMPLE_TOWN)
    town = town.model_copy(update={"hub": town.hub.model_copy(update={"cors_origins": ["https://ops.example"]})})
    app = create_app(town, HubConfig(db_url=f"sqlite:///{tmp_path / 'h.db'}", media_dir=tmp_path / "m",
                                     watch_interval_s=0))
    with TestClient(app) as client:
        hdr = {"Access-Control-Request-Method": "GET"}
        good = client.options("/api/v1/town", headers={"Origin": "https://ops.example", **hdr})
        bad = client.options("/api/v1/town", headers={"Origin": "https://evil.example", **hdr})
    assert good.headers.get("access-control-allow-origin") == "https://ops.example"
    assert "access-control-allow-origin" not in bad.headers


def test_login_is_rate_limited(tmp_path: Path) -> None:
    from central.security import LOGIN_MAX_FAILURES

    db = f"sqlite:///{tmp_path / 'h.db'}"
    good = make_token(db, "dispatcher")
    cfg = HubConfig(db_url=db, media_dir=tmp_path / "m", watch_interval_s=0)
    app = create_app(load_town(SAMPLE_TOWN), cfg)
    with TestClient(app) as client:
        assert client.post("/api/v1/session", json={"token": good}).status_code == 200
        codes = [client.post("/api/v1/session", json={"token": f"wrong-{i}"}).status_code
                 for i in range(LOGIN_MAX_FAILURES + 3)]
        blocked = client.post("/api/v1/session", json={"token": good})
    assert codes[:LOGIN_MAX_FAILURES] == [401] * LOGIN_MAX_FAILURES
    assert codes[LOGIN_MAX_FAILURES:] == [429] * 3
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "too many failed logins" in blocked.json()["detail"]


def test_secrets_never_in_logs(live: LiveHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tokens in headers, in ?token=, in Open311's api_key and in the login body, and an RTSP password
    filled into a camera URL on the edge: none may appear in the hub's or the edge worker's log."""
    from tests.edge.town import write_town

    bad_token = "Zz9-not-a-real-token-but-secret-looking-1234567890"
    httpx.get(live.url + "/api/v1/town", headers={"Authorization": f"Bearer {bad_token}"})
    httpx.get(f"{live.url}/api/v1/media/{'0' * 32}.jpg?token={live.tokens['dispatcher']}")
    httpx.get(f"{live.url}/api/v1/media/{'0' * 32}.jpg?token={bad_token}")
    httpx.post(live.url + "/open311/v2/requests.json", data={"api_key": live.tokens["grid_worker"]})
    httpx.post(live.url + "/api/v1/session", json={"token": live.tokens["admin"]})
    password = "S3cret-Camera-Pw"
    town = tmp_path / "town.yaml"
    (cam,) = write_town(town, ["rtsp://127.0.0.1:9/cam"], live.url,
                        edge={"heartbeat_every_s": 0.5, "reconnect_max_s": 0.5})
    # A town file never holds a password (the schema refuses one): the URL has {password}, the edge
    # fills it from the secret the camera names, here from its environment.
    data = yaml.safe_load(town.read_text(encoding="utf-8"))
    first = next(c for c in data["cameras"] if c["id"] == cam)
    first["streams"] = {"main": "rtsp://admin:{password}@127.0.0.1:9/cam", "password_ref": "test-cam"}
    town.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("GRIDWATCH_SECRET_TEST_CAM", password)
    token_file = tmp_path / "edge.token"
    token_file.write_text(live.tokens["edge-01"])
    edge = EdgeProcess(["edge", "--config", str(town), "--node", "edge-01", "--hub", live.url,
                        "--token-file", str(token_file), "--data-dir", str(tmp_path / "edge")],
                       tmp_path / "edge.log").start()
    try:
        con_rows = lambda: sqlite3.connect(f"file:{live.db_file}?mode=ro", uri=True).execute(  # noqa: E731
            "SELECT COUNT(*) FROM node_states WHERE node_id = 'edge-01'").fetchone()[0]
        wait_for(con_rows, 60, "a heartbeat from the edge", edge.log)
        # the camera's URL, with its password, was used and logged (redacted) by the failed connects
        wait_for(lambda: "rtsp://admin:***@127.0.0.1:9/cam" in edge.log(), 60,
                 "the edge to log its failed camera connection", edge.log)
    finally:
        assert edge.terminate() == 0, edge.log()
    hub_log = live.proc.log_path.read_text(errors="replace")
    edge_log = edge.log_path.read_text(errors="replace")
    # the requests that carried a token in their URL were logged, with the token scrubbed
    media_lines = [ln for ln in hub_log.splitlines() if f"/api/v1/media/{'0' * 32}.jpg" in ln]
    assert len(media_lines) == 2 and all("token=***" in ln for ln in media_lines), hub_log[-3000:]
    for name, text in (("hub", hub_log), ("edge", edge_log)):
        for secret in (*live.tokens.values(), bad_token, password):
            assert secret not in text, f"a secret ({secret[:4]}...) is in the {name} log"
    assert "rtsp://admin:***@127.0.0.1:9/cam" in edge_log  # the camera URL was logged, redacted
    (Path(__file__).resolve().parents[2] / "var" / "reliability").mkdir(parents=True, exist_ok=True)
    (Path(__file__).resolve().parents[2] / "var" / "reliability" / "secrets_in_logs.json").write_text(
        json.dumps({"hub_log_lines": hub_log.count("\n"), "edge_log_lines": edge_log.count("\n"),
                    "secrets_checked": len(live.tokens) + 2}))


def test_bad_bodies_on_the_live_server(live: LiveHub) -> None:
    """Through real uvicorn: too big (declared and streamed without a length) -> 413, a corrupt JPEG
    -> 422 and nothing kept, an unknown camera -> 404, another node's camera -> 403."""
    hdr = {**live.auth("edge-01"), "Content-Type": "application/json"}
    now = datetime.now(UTC)

    def body(n: int, **over: object) -> dict[str, object]:
        a = Alert(id=stable_id("bad", n), event_id=stable_id("bad-ev", n), node_id="edge-01",
                  camera_id="cam-003", kind=EventKind.FLOODING, phase=Phase.ONSET, seq=n, raised_at=now,
                  started_at=now, score=0.6)
        return json.loads(a.model_dump_json()) | over

    assert httpx.post(live.url + "/api/v1/alerts", content=b"{" * 13_000_000, headers=hdr).status_code == 413

    def stream() -> Iterator[bytes]:
        for _ in range(200):
            yield b" " * 100_000
    streamed = httpx.post(live.url + "/api/v1/alerts", content=stream(), headers=hdr)
    assert streamed.status_code == 413
    files_before = sorted(p.name for p in live.media.iterdir()) if live.media.exists() else []
    corrupt = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9").decode()
    bad = httpx.post(live.url + "/api/v1/alerts", json=body(1, snapshot_jpeg=corrupt), headers=hdr)
    assert bad.status_code == 422 and "snapshot" in bad.text
    files_after = sorted(p.name for p in live.media.iterdir()) if live.media.exists() else []
    assert files_after == files_before, "a refused snapshot was kept"
    unknown = httpx.post(live.url + "/api/v1/alerts", json=body(2, camera_id="cam-999"), headers=hdr)
    assert unknown.status_code == 404 and "cam-999" in unknown.json()["detail"]
    other = httpx.post(live.url + "/api/v1/alerts", json=body(3, camera_id="cam-021"), headers=hdr)
    assert other.status_code == 403
    con = sqlite3.connect(f"file:{live.db_file}?mode=ro", uri=True)
    try:
        kept = con.execute("SELECT COUNT(*) FROM alerts WHERE id IN (?, ?, ?)",
                           (stable_id("bad", 1), stable_id("bad", 2), stable_id("bad", 3))).fetchone()[0]
    finally:
        con.close()
    assert kept == 0


def test_failure_limiter_window_slides_and_is_per_address() -> None:
    from central.security import FailureLimiter

    now = [1000.0]
    lim = FailureLimiter(max_failures=3, window_s=60.0, clock=lambda: now[0], max_keys=2)
    for _ in range(3):
        assert lim.retry_after("10.0.0.1") == 0
        lim.failed("10.0.0.1")
        now[0] += 10
    assert lim.retry_after("10.0.0.1") == pytest.approx(30.0)  # the first failure leaves the window at 1060
    assert lim.retry_after("10.0.0.2") == 0  # another address is not affected
    now[0] += 30.5
    assert lim.retry_after("10.0.0.1") == 0  # one failure slid out: one more try allowed
    lim.failed("10.0.0.2")
    lim.failed("10.0.0.3")  # over max_keys: the address idle longest is forgotten
    assert len(lim._failures) == 2
