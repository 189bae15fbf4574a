"""Two real hub processes on one database, shared by the scale-out tests: on a real PostgreSQL, and
on one SQLite file (whose writers take turns on a file lock, central.db.WriterQueue).

Starting a hub costs seconds, so the module's tests share one pair; each test uses its own cameras
and events, and checks only what it caused (or, for the feed, the whole log, which stays valid).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from central.db import Database
from central.migrations import upgrade
from tests.support.hub import HubProcess, make_token
from tests.support.postgres import PostgresServer, postgres_server  # noqa: F401  (fixture)


@dataclass
class Pair:
    a: HubProcess
    b: HubProcess
    db_url: str
    edge: dict[str, str]  # node -> token
    desk: str

    def db(self) -> Database:
        return Database(self.db_url)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pair') / 'hub.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.create_database()
    db = Database(url)
    upgrade(db)  # migrated once here, so the two processes start on a current schema
    db.dispose()
    edge = {node: make_token(url, "edge", node=node) for node in ("edge-01", "edge-02", "edge-03")}
    desk = make_token(url, "dispatcher")
    with HubProcess(db_url=url) as a, HubProcess(db_url=url) as b:
        yield Pair(a=a, b=b, db_url=url, edge=edge, desk=desk)
