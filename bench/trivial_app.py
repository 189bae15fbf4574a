"""The yardstick for the hub: a trivial FastAPI app on the same server (uvicorn) and workers.

It parses and validates the same request bodies with the same wire models and answers a fixed reply,
but stores nothing. The hub's figures divided by these say what the hub's own work (authentication,
database, incidents, routing, feed) costs on top of the framework.

    .venv/bin/python -m uvicorn --factory bench.trivial_app:create_app --port 8001
"""

from __future__ import annotations

from fastapi import FastAPI

from gridwatch.wire import Alert, AlertReceipt, Heartbeat


def create_app() -> FastAPI:
    api = FastAPI(title="trivial")

    @api.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @api.post("/api/v1/alerts", response_model=AlertReceipt, status_code=201)
    def alerts(alert: Alert) -> AlertReceipt:
        return AlertReceipt(alert_id=alert.id, incident_id=1, work_order_id=1, duplicate=False)

    @api.post("/api/v1/heartbeats", status_code=202)
    def heartbeats(hb: Heartbeat) -> dict[str, object]:
        return {"accepted": True, "cameras": len(hb.cameras), "changed": 0}

    return api

