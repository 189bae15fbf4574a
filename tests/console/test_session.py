"""Console login: token for cookie, the cookie read back as a bearer token, logout, and the guards
(HttpOnly + SameSite=Strict, console header on writes, header beats cookie, revocation ends it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from central.app import create_app
from central.sessions import NAME_COOKIE, SESSION_COOKIE, clean_name, cookie_credentials
from central.settings import HubConfig
from central.tables import Token
from gridwatch.config import load_town
from tests.support.hub import SAMPLE_TOWN, make_token

CONSOLE = {"X-Gridwatch-Console": "1"}


@pytest.fixture()
def hub(tmp_path: Path) -> Iterator[tuple[TestClient, str]]:
    db_url = f"sqlite:///{tmp_path / 'hub.db'}"
    app = create_app(load_town(SAMPLE_TOWN),
                     HubConfig(db_url=db_url, media_dir=tmp_path / "media", watch_interval_s=0))
    with TestClient(app, follow_redirects=False) as client:
        yield client, db_url


def login(client: TestClient, token: str, name: str | None = None) -> None:
    resp = client.post("/api/v1/session", json={"token": token, "name": name})
    assert resp.status_code == 200, resp.text


def test_console_page_needs_a_session(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    resp = client.get("/")
    assert resp.status_code == 303 and resp.headers["location"] == "/login"
    page = client.get("/login")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]

    login(client, make_token(db_url, "dispatcher", name="desk-1"), name="李明")
    page = client.get("/")
    assert page.status_code == 200 and 'id="feed-list"' in page.text
    me = client.get("/api/v1/session").json()
    assert me == {"role": "dispatcher", "name": "李明 (desk-1)", "display_name": "李明"}


def test_login_sets_a_strict_httponly_cookie_and_logout_clears_it(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    resp = client.post("/api/v1/session", json={"token": make_token(db_url, "maintainer"), "name": "Wang"})
    assert resp.status_code == 200 and resp.json()["role"] == "maintainer"
    cookies = [v for k, v in resp.headers.multi_items() if k == "set-cookie"]
    session = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    flags = {part.strip().lower() for part in session.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert client.get("/api/v1/cameras").status_code == 200  # the cookie is as good as the header

    out = client.delete("/api/v1/session")
    assert out.status_code == 204
    cleared = [v for k, v in out.headers.multi_items() if k == "set-cookie"]
    assert any(c.startswith(f'{SESSION_COOKIE}=""') or "max-age=0" in c.lower() for c in cleared)
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/").status_code == 303
    assert client.get("/api/v1/cameras").status_code == 401


@pytest.mark.parametrize(("token", "status"), [("no-such-token", 401), ("has spaces in it", 422), ("", 422)])
def test_bad_tokens_get_no_session(hub: tuple[TestClient, str], token: str, status: int) -> None:
    client, _ = hub
    resp = client.post("/api/v1/session", json={"token": token})
    assert resp.status_code == status
    assert "set-cookie" not in resp.headers
    assert client.get("/").status_code == 303


def test_edge_tokens_cannot_log_in(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    resp = client.post("/api/v1/session", json={"token": make_token(db_url, "edge", node="edge-01")})
    assert resp.status_code == 403 and "edge" in resp.json()["detail"]
    assert "set-cookie" not in resp.headers


def test_cookie_writes_need_the_console_header(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    login(client, make_token(db_url, "dispatcher"))
    body = {"action": "acknowledge"}
    # Without the header the cookie does not count: as if not logged in (a cross-site form looks so).
    assert client.post("/api/v1/work-orders/999/actions", json=body).status_code == 401
    # With it, the request is authenticated and reaches the route (no such order here).
    assert client.post("/api/v1/work-orders/999/actions", json=body, headers=CONSOLE).status_code == 404


def test_an_authorization_header_beats_the_cookie(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    login(client, make_token(db_url, "dispatcher"))
    assert client.get("/api/v1/cameras", headers={"Authorization": "Bearer wrong"}).status_code == 401
    grid = make_token(db_url, "grid_worker")
    assert client.get("/api/v1/cameras", headers={"Authorization": f"Bearer {grid}"}).status_code == 403


def test_revoking_the_token_ends_the_session(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    login(client, make_token(db_url, "dispatcher", name="night"))
    assert client.get("/api/v1/session").status_code == 200
    from central.db import Database

    db = Database(db_url)
    try:
        with db.write() as s:
            s.execute(update(Token).where(Token.name == "night").values(revoked_at=datetime.now(UTC)))
    finally:
        db.dispose()
    assert client.get("/api/v1/session").status_code == 401
    assert client.get("/").status_code == 303


def test_the_feed_and_media_accept_the_cookie(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    assert client.get("/api/v1/feed?follow=false").status_code == 401
    login(client, make_token(db_url, "dispatcher"))
    resp = client.get("/api/v1/feed?follow=false")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert client.get("/api/v1/media/" + "0" * 32 + ".jpg").status_code == 404  # authenticated, no file
    head = client.get("/api/v1/console/feed-head")
    assert head.status_code == 200 and head.json()["last_event_id"] >= 0


def test_static_files_are_served_with_the_policy_and_stay_inside(hub: tuple[TestClient, str]) -> None:
    client, _ = hub
    js = client.get("/console/static/js/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert js.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in js.headers["content-security-policy"]
    zh = client.get("/console/static/i18n/zh-CN.json")
    assert zh.status_code == 200 and zh.json()["app.name"]
    for path in ("/console/static/../router.py", "/console/static/%2e%2e/router.py",
                 "/console/static/..%2f..%2fsessions.py"):
        assert client.get(path).status_code == 404, path


def test_the_cookie_rule_itself() -> None:
    token = "abcDEF123_-"
    cookie = {SESSION_COOKIE: token}
    assert cookie_credentials("GET", {}, cookie) == f"Bearer {token}"
    assert cookie_credentials("POST", {}, cookie) is None
    assert cookie_credentials("POST", {"x-gridwatch-console": "1"}, cookie) == f"Bearer {token}"
    assert cookie_credentials("DELETE", {"x-gridwatch-console": "yes"}, cookie) is None
    assert cookie_credentials("GET", {"authorization": "Bearer other"}, cookie) is None
    assert cookie_credentials("GET", {}, {SESSION_COOKIE: "a b"}) is None
    assert cookie_credentials("GET", {}, {NAME_COOKIE: "x"}) is None


def test_display_names_are_cleaned() -> None:
    assert clean_name("  李明\n\x00 ") == "李明"
    assert clean_name("x" * 100) == "x" * 64
    assert clean_name(None) == ""


def test_actions_record_the_person_on_shift(hub: tuple[TestClient, str]) -> None:
    client, db_url = hub
    from tests.console import media

    edge = make_token(db_url, "edge", node="edge-03")
    camera = next(c for c in load_town(SAMPLE_TOWN).cameras if c.node == "edge-03")
    body = media.alert("edge-03", camera.id, "landslide").model_dump_json()
    sent = client.post("/api/v1/alerts", content=body,
                       headers={"Authorization": f"Bearer {edge}", "Content-Type": "application/json"})
    order = sent.json()["work_order_id"]
    desk = make_token(db_url, "dispatcher", name="desk-2")
    login(client, desk, name="王芳")
    done = client.post(f"/api/v1/work-orders/{order}/actions", json={"action": "acknowledge"},
                       headers=CONSOLE)
    assert done.status_code == 200, done.text
    assert done.json()["history"][-1]["actor"] == "王芳 (desk-2)"
    assert done.json()["allowed_actions"] == ["dispatch", "reject", "reassign"]
    # The same token used as a bearer header (an API client) is recorded by the token's name alone.
    client.cookies.clear()
    done = client.post(f"/api/v1/work-orders/{order}/actions", json={"action": "dispatch"},
                       headers={"Authorization": f"Bearer {desk}"})
    assert done.status_code == 200, done.text
    assert done.json()["history"][-1]["actor"] == "desk-2"
