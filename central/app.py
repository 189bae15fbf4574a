"""``create_app``: build the hub's FastAPI app from a validated town and this process's settings.

Nothing happens at import. On start (lifespan) the database is migrated and, unless turned off, the
deadline and heartbeat watchers start (on a SQLite file also the WAL checkpointer); on shutdown they
stop and the engine is disposed.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from central import health, open311
from central.alert_writer import AlertWriter
from central.api import alerts, cameras, feed, incidents, notifications, stats, town, town_schema, work_orders
from central.api import registry as registry_api
from central.context import Clock, Hub, system_clock
from central.db import Database
from central.deadlines import DeadlineWatcher, Watcher
from central.feed import PUBLISHED
from central.feed_tail import FeedTail
from central.idempotency import IdempotencyKeys
from central.limits import BodyLimit
from central.media import MediaStore
from central.metrics import HubMetrics
from central.migrations import upgrade
from central.notifications.channels import ready_channels
from central.notifications.metrics import QueueCollector
from central.notifications.notifier import Notifier
from central.notify import FeedNotifier
from central.registry_live import LiveRegistry
from central.security import install_security
from central.settings import HubConfig
from gridwatch import __version__
from gridwatch.config import Town
from gridwatch.logs import redact

log = logging.getLogger(__name__)


def build_hub(town_cfg: Town, hub_config: HubConfig, clock: Clock = system_clock) -> Hub:
    db = Database(hub_config.db_url)
    metrics = HubMetrics()
    hub = Hub(
        town=town_cfg,
        config=hub_config,
        db=db,
        clock=clock,
        media=MediaStore(hub_config.media_dir),
        metrics=metrics,
    )
    metrics.attach_db(db, lambda: health.camera_statuses(db, hub.town))
    return hub


def build_notifier(hub: Hub, env: Mapping[str, str]) -> Notifier | None:
    """The notifier when notifications.yaml enables a channel (secrets read from ``env`` now: a
    missing one is a config error at start-up); None otherwise."""
    channels = ready_channels(hub.town.notifications, env)
    hub.metrics.registry.register(QueueCollector(hub.db))
    if not channels:
        return None
    return Notifier(hub.db, hub.town, channels, hub.clock, poll_s=hub.config.notify_poll_s or 1.0,
                    registry=hub.metrics.registry)


def create_app(
    town_cfg: Town,
    hub_config: HubConfig,
    clock: Clock = system_clock,
    env: Mapping[str, str] | None = None,
    town_headers: dict[str, str] | None = None,
) -> FastAPI:
    """``env``: where channel secrets are looked up (the process's environment by default).
    ``town_cfg`` seeds an empty camera registry (``town_headers``: its files' top comments, kept on
    export); once the registry holds a town, that one runs (central.registry_live)."""
    hub = build_hub(town_cfg, hub_config, clock)
    live = LiveRegistry(hub)
    outbound = build_notifier(hub, os.environ if env is None else env)
    watchers: list[Watcher] = []
    if hub_config.watch_interval_s > 0:
        watchers = [
            DeadlineWatcher(hub, hub_config.watch_interval_s),
            Watcher(
                "offline-watcher",
                lambda now: health.sweep_offline(hub.db, hub.town, now),
                hub.clock,
                hub_config.watch_interval_s,
            ),
            Watcher("registry-watcher", lambda _now: live.revision(), hub.clock, hub_config.watch_interval_s),
        ]

    if hub.db.writers is not None:  # a SQLite file: its WAL checkpoints off the requests' path
        watchers.append(Watcher("wal-checkpoint", lambda _now: hub.db.checkpoint(), hub.clock, 1.0))

    tail = FeedTail(hub.db, hub_config.feed_poll_s)
    hub.db.on_commit(lambda session: tail.poke() if session.info.get(PUBLISHED) else None)
    if outbound is not None:
        hub.db.on_commit(lambda session: outbound.poke() if session.info.get(PUBLISHED) else None)
    notifier = (
        FeedNotifier(hub_config.db_url, tail.poke) if hub.db.is_postgres and hub_config.feed_listen else None
    )
    writer = AlertWriter(hub)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if hub_config.migrate_on_start:
            await run_in_threadpool(upgrade, hub.db)
        await run_in_threadpool(live.adopt, town_headers or {})
        writer.start()
        for w in watchers:
            w.start()
        tail.start()
        if notifier is not None:
            notifier.start()
        if outbound is not None and hub_config.notify_poll_s > 0:
            outbound.start()
        try:
            yield
        finally:
            if outbound is not None:
                await run_in_threadpool(outbound.stop)
            if notifier is not None:
                await run_in_threadpool(notifier.stop)
            await run_in_threadpool(tail.stop)
            for w in watchers:
                await run_in_threadpool(w.stop)
            await run_in_threadpool(writer.stop)  # stores what is queued before the engine goes
            hub.db.dispose()

    app = FastAPI(
        title="gridwatch hub",
        version=__version__,
        lifespan=lifespan,
        description="Camera alerts to grid work orders for the town's departments and grid workers.",
    )
    app.state.hub = hub
    app.state.watchers = watchers
    app.state.feed_notifier = notifier
    app.state.feed_tail = tail
    app.state.alert_writer = writer
    app.state.notifier = outbound
    app.state.registry = live
    for module in (alerts, work_orders, incidents, cameras, feed, town, stats, notifications, registry_api):
        app.include_router(module.router)
    app.include_router(open311.router)
    # Innermost of the middlewares, so it sees the Authorization the console's session cookie became.
    app.add_middleware(IdempotencyKeys, db=lambda: hub.db, clock=hub.now)
    if importlib.util.find_spec("central.console") is not None:  # the web console, when installed
        from central.console import install_console

        install_console(app)
    app.add_middleware(BodyLimit, max_bytes=hub_config.max_body_bytes)
    install_security(app, cors_origins=town_cfg.hub.cors_origins)  # outermost: headers on every reply

    @app.exception_handler(DataError)
    async def _bad_value(_: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses (out of range, bad bytes) that validation let through: the
        # caller's fault, and the transaction was rolled back, so 422 rather than 500.
        return JSONResponse({"detail": f"value refused by the database: {exc.orig}"}, status_code=422)

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        # The database is restarting, unreachable or locked: nothing was committed; the caller (an
        # edge outbox, a console) should retry, so say so instead of a 500 with a traceback.
        log.warning("database unavailable: %s", redact(str(exc.orig)).splitlines()[0])
        return JSONResponse(
            {"detail": "database unavailable, retry shortly"}, status_code=503, headers={"Retry-After": "1"}
        )

    @app.exception_handler(UnicodeDecodeError)
    async def _bad_text(_: Request, exc: UnicodeDecodeError) -> JSONResponse:
        return JSONResponse({"detail": "request body is not UTF-8 text"}, status_code=400)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own 422 list, as ASCII-escaped JSON, without echoing each input back: an echoed
        # lone surrogate ("\ud800", a legal JSON escape, yet no UTF-8 text), NaN or Infinity cannot
        # be written as JSON (a 500), and echoing a 1 MB snapshot helps nobody. Where and what is enough.
        errors = [
            {"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in exc.errors()
        ]
        return _AsciiJSON({"detail": jsonable_encoder(errors)}, status_code=422)

    @app.exception_handler(UnicodeEncodeError)
    async def _unencodable(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # The same lone surrogate in a field that passed validation, refused by the database driver.
        return JSONResponse(
            {"detail": "text holds characters that are not valid Unicode (a lone surrogate)"}, status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(allowed_methods(app, request.scope))}
        return await http_exception_handler(request, exc)

    _declare_message_422(app)
    town_schema.install(app, lambda: hub.town)
    return app


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method some route takes at this path. Starlette's own 405 names only the first route
    that matched the path (``/api/v1/session`` is three routes: GET, POST, DELETE), so its ``Allow``
    header left out the others; RFC 9110 wants them all."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


class _AsciiJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def _declare_message_422(app: FastAPI) -> None:
    """Say in the OpenAPI schema what the hub really sends with 422: pydantic's list of errors, or
    one message string from a check beyond the schema (an unknown state, a bad evidence image)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        schema = build()
        props = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError", {})
        detail = props.get("properties", {}).get("detail")
        if first and detail is not None and "anyOf" not in detail:
            props["properties"]["detail"] = {"anyOf": [detail, {"type": "string"}], "title": "Detail"}
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
