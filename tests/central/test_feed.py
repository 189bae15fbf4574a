"""The live feed: persisted events with increasing ids; resuming with Last-Event-ID loses nothing and
repeats nothing."""

from __future__ import annotations

import json

import pytest

from tests.central.conftest import alert


def _read(hub, **headers: str) -> list[dict]:
    params = {"follow": "false"}
    r = hub.client.get("/api/v1/feed", params=params, headers={**hub.auth("dispatcher"), **headers})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    out, ids = [], []
    for line in r.text.splitlines():
        if line.startswith("id: "):
            ids.append(int(line[4:]))
        elif line.startswith("data: "):
            out.append(json.loads(line[6:]))
    assert ids == [e["id"] for e in out]
    return out


def test_resume_with_last_event_id(hub) -> None:
    for i in range(3):
        hub.post_alert(alert(camera=f"cam-00{i + 3}", kind="flooding", event=f"ev-{i}"))
    first = _read(hub)
    assert [e["type"] for e in first] == ["incident.created", "work_order.created"] * 3
    ids = [e["id"] for e in first]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    cut = ids[2]
    # more happens while the client is away
    oid = first[1]["data"]["id"]
    hub.act(oid, "dispatcher", "acknowledge")
    hub.post_alert(alert(camera="cam-003", kind="flooding", event="ev-0", phase="clear", seq=2))
    resumed = _read(hub, **{"Last-Event-ID": str(cut)})
    assert [e["id"] for e in resumed][:3] == ids[3:]
    everything = _read(hub)
    assert [e["id"] for e in everything if e["id"] > cut] == [e["id"] for e in resumed]
    assert [e["type"] for e in resumed][-3:] == [
        "work_order.updated",
        "incident.cleared",
        "work_order.updated",
    ]
    # the query parameter works as well, and the newest id gives nothing
    assert _read(hub, **{"Last-Event-ID": str(everything[-1]["id"])}) == []
    r = hub.client.get(f"/api/v1/feed?follow=false&last_event_id={cut}", headers=hub.auth("dispatcher"))
    assert r.text.count("\nid: ") + r.text.startswith("id: ") == len(resumed)


def test_bad_last_event_id_is_422(hub) -> None:
    r = hub.client.get(
        "/api/v1/feed?follow=false", headers={**hub.auth("dispatcher"), "Last-Event-ID": "abc"}
    )
    assert r.status_code == 422


def test_camera_status_changes_are_in_the_feed(hub, town) -> None:
    from tests.central.test_health import heartbeat

    hub.client.post(
        "/api/v1/heartbeats", json=heartbeat(town, "edge-01", hub.clock.now), headers=hub.auth("edge-01")
    )
    events = [e for e in _read(hub) if e["type"] == "camera.status"]
    assert len(events) == len(town.cameras_of("edge-01"))
    assert {e["data"]["status"] for e in events} == {"online"}


@pytest.mark.postgres
def test_live_stream_is_woken_by_notify_on_postgres(town, postgres_server, pg_template, tmp_path) -> None:
    """A following stream with polling practically off (1 h) still gets a new event at once: on
    PostgreSQL the commit's NOTIFY wakes it. Served by a real uvicorn on a free port."""
    import threading

    import httpx
    import uvicorn

    from central.app import create_app
    from central.auth import store_token
    from central.settings import HubConfig
    from tests.central.conftest import T0
    from tests.support.net import free_port

    url = postgres_server.create_database(template=pg_template)
    app = create_app(
        town,
        HubConfig(
            db_url=url, media_dir=tmp_path, watch_interval_s=0, feed_poll_s=3600, max_clock_skew_s=10**9
        ),
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        while not server.started:
            threading.Event().wait(0.05)
        db = app.state.hub.db
        desk = store_token(db, "dispatcher", None, "desk", T0)
        edge = store_token(db, "edge", "edge-01", None, T0)
        assert app.state.feed_notifier.listening.wait(30)
        with httpx.stream(
            "GET",
            base + "/api/v1/feed",
            headers={"Authorization": f"Bearer {desk}"},
            timeout=httpx.Timeout(60),
        ) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")
            r = httpx.post(base + "/api/v1/alerts", json=alert(), headers={"Authorization": f"Bearer {edge}"})
            assert r.status_code == 201, r.text
            events = []
            for line in lines:
                if line.startswith("event: "):
                    events.append(line[7:])
                if len(events) == 2:
                    break
        assert events == ["incident.created", "work_order.created"]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
