"""``gridwatch hub``: load the town, build the app, run uvicorn.

With ``workers > 1`` uvicorn needs an import string; the settings then travel in environment
variables to :func:`app_from_env` in each worker. On one SQLite file the workers' writers take turns
(:class:`central.db.WriterQueue`); PostgreSQL for hub processes on several machines.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from central.app import create_app
from central.db import database_problem
from central.notifications.channels import ready_channels
from central.settings import DEFAULT_DB_URL, HubConfig, default_media_dir
from gridwatch.config import load_town
from gridwatch.config.loader import read_headers
from gridwatch.logs import redact

log = logging.getLogger(__name__)
ENV = "GRIDWATCH_HUB_SETTINGS"


def serve(config: Path, db: str | None, host: str, port: int, workers: int, media_dir: Path | None,
          access_log: bool = False) -> int:
    town = load_town(config)
    ready_channels(town.notifications, os.environ)  # a missing secret stops here, with one line
    url = db or DEFAULT_DB_URL
    try:
        parsed = make_url(url)
    except ArgumentError:
        print(f"gridwatch: --db {redact(url)!r} is not a database URL", file=sys.stderr)
        return 2
    if workers > 1 and parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        print("gridwatch: --workers > 1 needs a database file or PostgreSQL (not SQLite in memory)",
              file=sys.stderr)
        return 2
    problem = database_problem(url)
    if problem is not None:
        print(f"gridwatch: cannot use the database {redact(url)}: {redact(problem)}", file=sys.stderr)
        return 1
    settings = {"config": str(config), "db": url, "media_dir": str(media_dir or default_media_dir(url))}
    log.info(
        "hub: town %s, database %s, media %s, http://%s:%d",
        town.town.name_en,
        redact(url),
        settings["media_dir"],
        host,
        port,
    )
    if workers > 1:
        os.environ[ENV] = json.dumps(settings)
        uvicorn.run(
            "central.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_config=None,
            access_log=access_log,
            timeout_graceful_shutdown=5,
            **_worker_healthcheck(),
        )
        return 0
    app = create_app(town, HubConfig(db_url=url, media_dir=Path(settings["media_dir"])),
                     town_headers=read_headers(config))
    freeze_startup_objects()
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=access_log,
                timeout_graceful_shutdown=5)
    return 0


#: Seconds a worker process may go without answering uvicorn's health check before it is killed and
#: restarted. uvicorn's default (5 s) is shorter than a worker's start-up on a busy machine (imports,
#: the town, migrations waiting for another worker's lock): workers were killed and restarted forever.
WORKER_HEALTHCHECK_S = 60.0


def _worker_healthcheck() -> dict[str, Any]:
    """The health-check timeout, for uvicorn versions that check workers (older ones do not)."""
    import inspect

    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.run).parameters:
        return {"timeout_worker_healthcheck": WORKER_HEALTHCHECK_S}
    return {}


def app_from_env() -> FastAPI:
    """Uvicorn worker factory: the settings ``serve`` put in the environment."""
    settings = json.loads(os.environ[ENV])
    town = load_town(settings["config"])
    app = create_app(town, HubConfig(db_url=settings["db"], media_dir=Path(settings["media_dir"])),
                     town_headers=read_headers(settings["config"]))
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Keep what start-up built (the town, the app, imported modules) out of the garbage collector.

    They live as long as the process, yet every full collection walked them all: ~0.2 s with a
    10,000-camera town, during which the process answered nothing (and, on SQLite, could hold the
    other processes' writers waiting for their turn). For the process's program edge only: frozen
    objects are never freed."""
    gc.collect()
    gc.freeze()
