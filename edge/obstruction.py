"""Road obstructions: standing anomalies on the road, and what kind they are."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.background import Reference
from edge.events import BBox, Details
from edge.models import ModelBundle
from edge.regions import RegionMasks
from gridwatch.config import DetectionSettings
from gridwatch.wire import EventKind


@dataclass(slots=True)
class Observation:
    active: bool = False
    score: float = 0.0
    bbox: BBox | None = None
    region: str | None = None
    details: Details = field(default_factory=dict)


@dataclass(slots=True)
class Findings:
    observations: dict[EventKind, Observation]
    keep: np.ndarray | None  # pixels the reference must not learn now


class ObstructionDetector:
    def __init__(self, masks: RegionMasks, settings: DetectionSettings, models: ModelBundle) -> None:
        self.masks = masks
        self.settings = settings
        self.models = models

    def pause(self) -> None:
        pass

    def analyse(self, t: float, image: np.ndarray, grey: np.ndarray, ref: Reference) -> Findings:
        obs = {k: Observation() for k in (EventKind.LANDSLIDE, EventKind.ROAD_BLOCKAGE, EventKind.FLOODING)}
        return Findings(obs, None)
