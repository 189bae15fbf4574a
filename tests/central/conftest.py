"""Fixtures for the hub's tests: every database test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import base64
import io
import itertools
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from central.app import create_app
from central.auth import store_token
from central.db import Database
from central.migrations import upgrade
from central.settings import HubConfig
from gridwatch.config import Town, load_town
from gridwatch.wire import stable_id
from tests.support.postgres import PostgresServer, postgres_server  # noqa: F401  (fixture)

SAMPLE = Path(__file__).resolve().parents[2] / "configs" / "yongshan"
T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def town() -> Town:
    return load_town(SAMPLE)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_template(postgres_server: PostgresServer) -> str:  # noqa: F811
    postgres_server.execute('CREATE DATABASE "gw_template"')
    db = Database(postgres_server.url("gw_template"))
    upgrade(db)
    db.dispose()
    return "gw_template"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database: a copy of a migrated SQLite file, or a PostgreSQL template copy
    (dropped after the test)."""
    if request.param == "sqlite":
        target = tmp_path / "hub.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database(template=request.getfixturevalue("pg_template"))
    yield url
    server.drop_database(url)


@dataclass
class FakeClock:
    """The hub's clock in tests: moves only when told."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> datetime:
        self.now += timedelta(**kw)
        return self.now


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class HubUnderTest:
    client: TestClient
    app: Any
    tokens: dict[str, str]
    clock: FakeClock
    db_url: str
    seq: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def hub(self) -> Any:
        return self.app.state.hub

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post_alert(self, body: dict[str, Any], who: str | None = None) -> Any:
        node = who or body.get("node_id", "edge-01")
        return self.client.post("/api/v1/alerts", json=body, headers=self.auth(node))

    def act(self, order_id: int, who: str, action: str, **extra: Any) -> Any:
        return self.client.post(
            f"/api/v1/work-orders/{order_id}/actions",
            json={"action": action, **extra},
            headers=self.auth(who),
        )


def make_hub(
    town: Town, db_url: str, tmp_path: Path, clock: FakeClock, **config: Any
) -> Iterator[HubUnderTest]:
    cfg = HubConfig(
        db_url=db_url, media_dir=tmp_path / "media", watch_interval_s=0, feed_poll_s=0.05, **config
    )
    app = create_app(town, cfg, clock=clock)
    with TestClient(app) as client:
        db = app.state.hub.db
        tokens = {
            role: store_token(db, role, None, f"{role}-1", clock())
            for role in ("dispatcher", "maintainer", "grid_worker", "admin")
        }
        tokens["department"] = store_token(
            db, "department", None, "department-1", clock(), department="natural-resources"
        )
        for node in ("edge-01", "edge-02"):
            tokens[node] = store_token(db, "edge", node, None, clock())
        yield HubUnderTest(client=client, app=app, tokens=tokens, clock=clock, db_url=db_url)


@pytest.fixture()
def hub(town: Town, db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[HubUnderTest]:
    yield from make_hub(town, db_url, tmp_path, clock)


def jpeg(size: int = 32, colour: tuple[int, int, int] = (120, 90, 60), noisy: bool = False) -> bytes:
    """A real JPEG; ``noisy`` makes it incompressible (big for its size)."""
    import random

    from PIL import Image

    buf = io.BytesIO()
    if noisy:
        rnd = random.Random(size)
        img = Image.frombytes("RGB", (size, size), bytes(rnd.randrange(256) for _ in range(size * size * 3)))
    else:
        img = Image.new("RGB", (size, size), colour)
    img.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def alert(
    camera: str = "cam-001",
    kind: str = "landslide",
    phase: str = "onset",
    *,
    node: str = "edge-01",
    event: str = "ev-0001",
    at: datetime = T0,
    seq: int = 1,
    score: float = 0.8,
    snapshot: bytes | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An Alert as JSON, with a stable id derived from its event, phase and seq."""
    body: dict[str, Any] = {
        "id": stable_id(camera, kind, event, phase, seq),
        "event_id": stable_id(camera, kind, event),
        "node_id": node,
        "camera_id": camera,
        "kind": kind,
        "phase": phase,
        "seq": seq,
        "raised_at": at.isoformat(),
        "started_at": at.isoformat(),
        "score": score,
        "bbox": [0.2, 0.5, 0.6, 0.9],
        "region": "road",
        "details": {"width_share": 0.5},
    }
    if snapshot is not None:
        body["snapshot_jpeg"] = b64(snapshot)
    body.update(extra)
    return body
