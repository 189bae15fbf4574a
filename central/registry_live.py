"""Keep one hub process's town in step with the camera registry in the database.

Routing, health and intake read ``hub.town``; the registry is written by this process, by other hub
processes on the same database (``--workers``, several machines) and by ``gridwatch config import``.
So the process looks at the registry's revision (at most once a second, one primary-key read) and
loads the town again when it moved on. Its own writes reload at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from sqlalchemy.exc import OperationalError, ProgrammingError

from central import registry
from central.context import Hub
from gridwatch.config import ConfigError

log = logging.getLogger(__name__)

SEEDER = registry.Actor(name="hub (first start, from the town folder)", role="system")
SEEDER_START = registry.Actor(name="hub (start, from the town folder)", role="system")


class LiveRegistry:
    def __init__(self, hub: Hub, ttl_s: float = 1.0) -> None:
        self.hub = hub
        self.ttl_s = ttl_s
        self.loaded = 0  # revision the hub's town was loaded at (0: the town folder, unseeded)
        self._seen = 0
        self._seen_at = float("-inf")
        self._lock = threading.Lock()

    def adopt(self, headers: Mapping[str, str]) -> None:
        """At start: seed an empty registry from the town folder, else run the registry's town."""
        try:
            if registry.seed(self.hub.db, self.hub.town, headers, SEEDER, self.hub.now()):
                self.loaded = self._seen = 1
                return
        except (OperationalError, ProgrammingError) as exc:  # no registry tables (not migrated)
            log.warning("registry: not available (%s); running the town folder", type(exc).__name__)
            return
        # Every section but the cameras follows the town folder, as before the registry; a folder
        # that does not fit the registry's cameras stops the start with its ConfigError.
        town, rev = registry.sync_sections(self.hub.db, self.hub.town, headers, SEEDER_START, self.hub.now())
        self.hub.set_town(town)
        self.loaded = self._seen = rev
        log.info("registry: running revision %d from the database (%d cameras); the cameras of the town "
                 "folder given on the command line only seed an empty registry", self.loaded,
                 len(self.hub.town.cameras))

    def revision(self) -> int:
        """The registry's revision now (cached for ``ttl_s``); reloads the town when it moved on."""
        now = time.monotonic()
        if now - self._seen_at >= self.ttl_s:
            try:
                self._seen = registry.revision(self.hub.db)
            except (OperationalError, ProgrammingError):
                return self._seen
            self._seen_at = now
            if self._seen > self.loaded:
                self.reload()
        return self._seen

    def written(self, revision: int) -> None:
        """This process wrote ``revision``: load it now, so the next request sees it."""
        self._seen, self._seen_at = max(self._seen, revision), time.monotonic()
        self.reload()

    def reload(self) -> None:
        """Load the registry's town (again)."""
        with self._lock:
            rev = registry.revision(self.hub.db)
            if rev <= self.loaded and self.loaded:
                return
            try:
                town = registry.load(self.hub.db)
            except ConfigError as exc:  # written by a newer/older schema: keep what runs, say so
                log.error("registry: revision %d cannot be used, keeping revision %d: %s", rev, self.loaded,
                          exc)
                self.loaded = rev
                return
            if town is not None:
                self.hub.set_town(town)
            self.loaded = max(self._seen, rev)
            self._seen = max(self._seen, rev)
