"""The live view's HTTP side without a peer: its refusals are JSON with a reason, it answers on the
port the OS picked, a busy port is one clear error, and stop() frees the port."""

from __future__ import annotations

import socket

import httpx
import pytest

from edge.live import MAX_BODY, LiveServer


class _Reader:
    def add_viewer(self) -> None: ...
    def remove_viewer(self) -> None: ...
    def live_frame(self) -> None:
        return None


def test_refusals_are_json_with_a_reason() -> None:
    srv = LiveServer(lambda cam: _Reader() if cam == "cam-1" else None)  # type: ignore[arg-type,return-value]
    srv.start()
    try:
        base = f"http://127.0.0.1:{srv.port}"
        ok = {"Authorization": f"Bearer {srv.key}"}
        assert httpx.get(f"{base}/health").json() == {"ok": True, "sessions": 0}
        r = httpx.get(f"{base}/nothing")
        assert r.status_code == 404 and r.json()["detail"]
        r = httpx.get(f"{base}/offer")
        assert r.status_code == 405 and r.headers["allow"] == "POST" and r.json()["detail"]
        r = httpx.post(f"{base}/offer", params={"camera_id": "cam-1"}, json={"sdp": "x", "type": "offer"})
        assert r.status_code == 401 and "live key" in r.json()["detail"]
        r = httpx.post(f"{base}/offer", params={"camera_id": "cam-2"}, headers=ok, json={})
        assert r.status_code == 404 and "cam-2" in r.json()["detail"]
        big = b"x" * (MAX_BODY + 1)
        r = httpx.post(f"{base}/offer", params={"camera_id": "cam-1"}, headers=ok, content=big)
        assert r.status_code == 413 and str(MAX_BODY) in r.json()["detail"]
        r = httpx.post(f"{base}/offer", params={"camera_id": "cam-1"}, headers=ok, content=b"{")
        assert r.status_code == 400 and "sdp" in r.json()["detail"]
        r = httpx.post(f"{base}/offer", params={"camera_id": "cam-1"}, headers=ok,
                       json={"sdp": "not sdp", "type": "offer"})
        assert r.status_code == 400 and "unusable offer" in r.json()["detail"]
    finally:
        srv.stop()


def test_busy_port_is_one_error_and_stop_frees_the_port() -> None:
    srv = LiveServer(lambda cam: None)
    srv.start()
    port = srv.port
    assert port > 0
    with pytest.raises(RuntimeError, match="could not listen"):
        LiveServer(lambda cam: None, port=port).start()
    srv.stop()
    with socket.socket() as s:  # the port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
