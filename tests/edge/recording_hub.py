"""A small recording HTTP server speaking the hub's intake contract, for edge tests that must take
the hub down and bring it back on the same port many times quickly. It stores every alert by id
(answering duplicates as the hub does) and every heartbeat."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from gridwatch.wire import Alert, Heartbeat


class RecordingHub:
    def __init__(self, port: int, token: str = "test-token") -> None:
        self.port, self.token = port, token
        self.alerts: dict[str, dict[str, Any]] = {}
        self.posts: list[str] = []          # alert ids in arrival order, duplicates included
        self.heartbeats: list[dict[str, Any]] = []
        self.fail: dict[str, int] = {}      # camera id -> HTTP status to answer its alerts with
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    return self._answer(401, {"detail": "bad token"})
                if self.path == "/api/v1/alerts":
                    alert = Alert.model_validate_json(body)
                    if alert.camera_id in hub.fail:
                        status = hub.fail[alert.camera_id]
                        return self._answer(status, {"detail": f"refused {alert.camera_id}"})
                    with hub.lock:
                        dup = alert.id in hub.alerts
                        hub.alerts.setdefault(alert.id, json.loads(body))
                        hub.posts.append(alert.id)
                        n = list(hub.alerts).index(alert.id) + 1
                    return self._answer(200 if dup else 201, {"alert_id": alert.id, "incident_id": n,
                                                              "work_order_id": n, "duplicate": dup})
                if self.path == "/api/v1/heartbeats":
                    hb = Heartbeat.model_validate_json(body)
                    with hub.lock:
                        hub.heartbeats.append(hb.model_dump(mode="json"))
                    return self._answer(202, {"ok": True})
                return self._answer(404, {"detail": "no such endpoint"})

            def _answer(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def alerts_of(self, camera_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [a for a in self.alerts.values() if a["camera_id"] == camera_id]
