"""Everything one hub app needs, built once by ``create_app`` and handed to each part."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from central.db import Database
from central.media import MediaStore
from central.metrics import HubMetrics
from central.routing import Neighbourhoods
from central.settings import HubConfig
from gridwatch.config import Town
from gridwatch.config.schema import Camera

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Hub:
    town: Town
    config: HubConfig
    db: Database
    clock: Clock
    media: MediaStore
    metrics: HubMetrics
    cameras: dict[str, Camera] = field(init=False)
    near: Neighbourhoods = field(init=False)

    def __post_init__(self) -> None:
        self.cameras = {c.id: c for c in self.town.cameras}
        self.near = Neighbourhoods(self.town).warm()  # at start-up, not in the first burst

    def set_town(self, town: Town) -> None:
        """Run another version of the town (the camera registry changed); look-ups rebuilt first."""
        near = Neighbourhoods(town).warm()
        cameras = {c.id: c for c in town.cameras}
        self.town, self.cameras, self.near = town, cameras, near

    def now(self) -> datetime:
        return self.clock()
