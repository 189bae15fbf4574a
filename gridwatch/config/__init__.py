"""The town config: schema and loader."""

from gridwatch.config.loader import ConfigError, load_town, parse_roi
from gridwatch.config.schema import Camera, DetectionSettings, EdgeSettings, HubSettings, Roi, Town

__all__ = ["Camera", "ConfigError", "DetectionSettings", "EdgeSettings", "HubSettings", "Roi", "Town",
           "load_town", "parse_roi"]
