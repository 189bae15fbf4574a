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
    PostgreSQL the commit's NOTIFY wakes it, as soon as it arrives, not when the listener's wait for
    notifications ends (made 30 s here; the stream gives up after 20 s). Served by a real uvicorn on
    a free port; stopping it does not wait for the listener's wait either."""
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
    app.state.feed_notifier.wait_s = 30
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
        listener = app.state.feed_notifier._thread
        with httpx.stream(
            "GET",
            base + "/api/v1/feed",
            headers={"Authorization": f"Bearer {desk}"},
            timeout=httpx.Timeout(20),
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
    assert not listener.is_alive()  # stop() woke it: it did not sit out its 30 s wait


def test_the_feed_tail_keeps_a_window_of_frames_after_its_floor(tmp_path) -> None:
    """The process's tail reads new events once into a window; a stream takes what is after its
    last id from there, or is told to read the table (None) when it is further back than the
    window reaches: before the tail started, or before the events the window has let go. With no
    stream following it reads nothing and lets its window go."""
    import asyncio
    import time as clock

    from central.db import Database
    from central.feed import publish
    from central.feed_tail import FeedTail
    from central.migrations import upgrade
    from tests.central.conftest import T0

    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(db)

    def append(n: int) -> None:
        with db.write() as s:
            for k in range(n):
                publish(s, "camera.status", {"camera": f"cam-{k:03d}"}, T0)

    def wait_until(what, timeout: float = 30.0):
        deadline = clock.monotonic() + timeout
        while not (got := what()) and clock.monotonic() < deadline:
            clock.sleep(0.01)
        return got

    append(2)  # before the tail: only the table has them
    tail = FeedTail(db, poll_s=3600, keep=4)  # no polling: it looks when poked (and once at start)
    tail.start()

    async def follow() -> None:
        woken = tail.register()  # a stream follows: the tail reads (with none it reads nothing)
        assert wait_until(lambda: tail.after(2) == [])  # the floor is the newest event at start
        assert tail.after(1) is None and tail.after(0) is None
        append(3)
        tail.poke()
        frames = wait_until(lambda: tail.after(2))
        assert [i for i, _ in frames] == [3, 4, 5]
        assert all(f.startswith(f"id: {i}\nevent: camera.status\ndata: ") for i, f in frames)
        assert [i for i, _ in tail.after(4)] == [5]
        append(3)  # 8 events, the window keeps 4: the floor moves to 4
        tail.poke()
        assert wait_until(lambda: tail.after(7)) and [i for i, _ in tail.after(4)] == [5, 6, 7, 8]
        assert tail.after(3) is None
        tail.unregister(woken)  # nobody follows: the window goes
        assert wait_until(lambda: tail.after(8) is None)

    try:
        asyncio.run(follow())
    finally:
        tail.stop()
        db.dispose()


def test_following_consoles_share_one_read_of_each_new_event(town, tmp_path) -> None:
    """Twenty consoles follow the feed of one hub process; a new alert's events reach every one of
    them while the event table is read a few times in all (by the process's tail), not once or
    more per console. Served by a real uvicorn on a free port."""
    import asyncio
    import threading
    import time

    import httpx
    import uvicorn
    from sqlalchemy import event

    from central.app import create_app
    from central.auth import store_token
    from central.settings import HubConfig
    from tests.central.conftest import T0
    from tests.support.net import free_port

    # no polling (an hour): what the tail reads is what commits made it read, however slow the machine
    app = create_app(town, HubConfig(db_url=f"sqlite:///{tmp_path / 'hub.db'}", media_dir=tmp_path / "m",
                                     watch_interval_s=0, max_clock_skew_s=10**9, feed_poll_s=3600))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    reads: list[str] = []
    running = [0]  # reads of the feed table started and not yet done

    def seen(conn, cursor, statement: str, *args) -> None:
        if "FROM feed_events" in statement:
            reads.append(statement)
            running[0] += 1

    def done(conn, cursor, statement: str, *args) -> None:
        if "FROM feed_events" in statement:
            running[0] -= 1

    async def run(base: str, desk: str, edge: str) -> list[list[str]]:
        got: list[list[str]] = [[] for _ in range(20)]
        ready = [asyncio.Event() for _ in range(20)]

        async def console(k: int, c: httpx.AsyncClient) -> None:
            headers = {"Authorization": f"Bearer {desk}", "Last-Event-ID": str(newest)}
            async with c.stream("GET", base + "/api/v1/feed", headers=headers) as r:
                async for line in r.aiter_lines():
                    if line.startswith("retry:"):
                        ready[k].set()
                    if line.startswith("event: "):
                        got[k].append(line[7:])
                        if len(got[k]) == 2:
                            return

        async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=30)) as c:
            tasks = [asyncio.create_task(console(k, c)) for k in range(20)]
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ready)), 60)
            # every console past its first look: the tail has its window (a look from now on reads
            # the window, not the table) and no read of the table is under way
            tail = app.state.feed_tail
            deadline = time.monotonic() + 60
            while tail.after(newest) is None or running[0]:
                assert time.monotonic() < deadline, "the feed tail never settled"
                await asyncio.sleep(0.02)
            reads.clear()
            r = await c.post(base + "/api/v1/alerts", json=alert(),
                             headers={"Authorization": f"Bearer {edge}"})
            assert r.status_code == 201, r.text
            await asyncio.wait_for(asyncio.gather(*tasks), 60)
        return got

    try:
        while not server.started:
            threading.Event().wait(0.05)
        db = app.state.hub.db
        desk = store_token(db, "dispatcher", None, "desk", T0)
        edge = store_token(db, "edge", "edge-01", None, T0)
        from central.feed import newest_event_id

        newest = newest_event_id(db)
        event.listen(db.engine, "before_cursor_execute", seen)
        event.listen(db.engine, "after_cursor_execute", done)
        got = asyncio.run(run(f"http://127.0.0.1:{port}", desk, edge))
        event.remove(db.engine, "before_cursor_execute", seen)
        event.remove(db.engine, "after_cursor_execute", done)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert all(g == ["incident.created", "work_order.created"] for g in got)
    # the tail's looks after the alert's commit (poked by it, and its commit watch): not 20 or more
    assert 1 <= len(reads) <= 4, reads


def test_the_feed_tail_sees_another_processs_commits_to_the_sqlite_file(tmp_path) -> None:
    """Two hub processes on one SQLite file have no NOTIFY between them: the tail watches the
    file's commit counter (``PRAGMA data_version``) and reads what another handle appended without
    waiting for its poll interval (an hour here) and without being poked."""
    import asyncio
    import time as clock

    from central.db import Database
    from central.feed import publish
    from central.feed_tail import FeedTail
    from central.migrations import upgrade
    from tests.central.conftest import T0

    url = f"sqlite:///{tmp_path / 'hub.db'}"
    mine, other = Database(url), Database(url)  # ``other``: the other process's handle
    upgrade(mine)
    tail = FeedTail(mine, poll_s=3600)
    tail.start()

    async def follow() -> None:
        tail.register()
        deadline = clock.monotonic() + 30
        while tail.after(0) is None and clock.monotonic() < deadline:
            clock.sleep(0.01)
        assert tail.after(0) == []
        with other.write() as s:
            publish(s, "camera.status", {"camera": "cam-001"}, T0)
        deadline = clock.monotonic() + 30
        while not tail.after(0) and clock.monotonic() < deadline:
            clock.sleep(0.01)
        assert [i for i, _ in tail.after(0)] == [1]

    try:
        asyncio.run(follow())
    finally:
        tail.stop()
        mine.dispose()
        other.dispose()
