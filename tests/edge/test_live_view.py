"""Live view end to end: a Python aiortc viewer sends its offer to the hub, the hub relays it to the
edge worker that reads the camera, and the viewer receives decodable pictures of that camera."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from tests.edge.procs import EdgeProcess, query, wait_for
from tests.edge.town import NODE, write_town
from tests.support.hub import HubProcess, make_token
from tests.support.net import free_port

pytestmark = pytest.mark.slow


async def watch(url: str, headers: dict[str, str], frames: int = 300) -> list[np.ndarray]:
    """Negotiate as a receive-only viewer; return the decoded pictures (RGB) up to the first one with
    picture content (the edge sends black until the camera's first frame is decoded for the viewer)."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    done: asyncio.Future[list[np.ndarray]] = asyncio.get_running_loop().create_future()
    tasks: set[asyncio.Task[None]] = set()

    @pc.on("track")
    def on_track(track) -> None:  # type: ignore[no-untyped-def]
        async def pull() -> None:
            got = []
            try:
                for _ in range(frames):
                    got.append((await track.recv()).to_ndarray(format="rgb24"))
                    if got[-1].std() > 20:
                        break
                done.set_result(got)
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)

        tasks.add(asyncio.ensure_future(pull()))

    try:
        await pc.setLocalDescription(await pc.createOffer())
        async with httpx.AsyncClient(timeout=30) as client:
            resp = await client.post(url, headers=headers,
                                     json={"sdp": pc.localDescription.sdp, "type": pc.localDescription.type})
        assert resp.status_code == 200, resp.text
        answer = resp.json()
        assert answer["type"] == "answer"
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        return await asyncio.wait_for(done, 60)
    finally:
        await pc.close()
        for task in tasks:
            task.cancel()


async def test_viewer_gets_camera_video_through_the_hub(tmp_path: Path, video_file: Path) -> None:
    town = tmp_path / "town.yaml"
    (cam,) = write_town(town, [str(video_file)], "http://127.0.0.1:1", edge={"heartbeat_every_s": 1.0})
    hub_db = tmp_path / "hub.db"
    hub = HubProcess(db_url=f"sqlite:///{hub_db}", config=town)
    hub.start()
    live_port = free_port()
    try:
        token_file = tmp_path / "edge.token"
        token_file.write_text(make_token(hub.db_url, "edge", node=NODE))
        viewer = make_token(hub.db_url, "dispatcher")
        edge = EdgeProcess(["edge", "--config", str(town), "--node", NODE, "--hub", hub.url, "--token-file",
                            str(token_file), "--data-dir", str(tmp_path / "edge"),
                            "--live-port", str(live_port)], tmp_path / "edge.log").start()
        try:
            await asyncio.to_thread(
                wait_for, lambda: query(hub_db, "SELECT live_url FROM node_states WHERE node_id = ?", NODE),
                60, "the edge to announce its live view", edge.log)
            pictures = await watch(f"{hub.url}/api/v1/cameras/{cam}/live/offer",
                                   {"Authorization": f"Bearer {viewer}"})
            assert all(p.shape[0] > 0 and p.shape[1] > 0 for p in pictures)
            # The generated test pattern has colour bars: real pictures, not a placeholder.
            assert pictures[-1].std() > 20

            # The edge's own endpoint serves only whoever presents the key it gave the hub...
            ((key,),) = query(hub_db, "SELECT live_key FROM node_states WHERE node_id = ?", NODE)
            assert key and len(key) >= 32 and key not in edge.log()
            async with httpx.AsyncClient(timeout=10) as client:
                base = f"http://127.0.0.1:{live_port}"
                for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": key}):
                    r = await client.post(f"{base}/offer", params={"camera_id": cam}, headers=auth,
                                          json={"sdp": "x", "type": "offer"})
                    assert r.status_code == 401, auth
                # ...and refuses what it cannot serve, with a reason.
                ok = {"Authorization": f"Bearer {key}"}
                r = await client.post(f"{base}/offer", params={"camera_id": "cam-999"}, headers=ok,
                                      json={"sdp": "x", "type": "offer"})
                assert r.status_code == 404 and "cam-999" in r.json()["detail"]
                r = await client.post(f"{base}/offer", params={"camera_id": cam}, json={"sdp": 1}, headers=ok)
                assert r.status_code == 400
                r = await client.post(f"{base}/offer", params={"camera_id": cam}, headers=ok,
                                      json={"sdp": "not sdp", "type": "offer"})
                assert r.status_code == 400
            # And the hub refuses a viewer without a token.
            async with httpx.AsyncClient(timeout=10) as client:
                r = await client.post(f"{hub.url}/api/v1/cameras/{cam}/live/offer",
                                      json={"sdp": "x", "type": "offer"})
                assert r.status_code == 401
        finally:
            assert edge.terminate() == 0, edge.log()
    finally:
        hub.stop()
