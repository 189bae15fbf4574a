"""Small test towns: the sample Yongshan config with a few of edge-01's cameras pointed at our streams."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gridwatch.config import load_town

ROOT = Path(__file__).resolve().parents[2]
NODE = "edge-01"


def write_town(path: Path, urls: list[str], hub_url: str, detection: dict[str, Any] | None = None,
               edge: dict[str, Any] | None = None, node: dict[str, Any] | None = None,
               streams: list[dict[str, Any]] | None = None) -> list[str]:
    """Write a one-file town; cameras 1..n of edge-01 read ``urls`` (``node``: settings of edge-01
    itself; ``streams``: each camera's streams settings over ``{"main": url}``); returns their ids."""
    town = load_town(ROOT / "configs" / "yongshan").model_dump(mode="json")
    for n in town["nodes"]:
        if n["id"] == NODE:
            n.update(node or {})
    ids: list[str] = []
    for cam in town["cameras"]:
        if cam["node"] != NODE:
            continue
        if len(ids) < len(urls):
            cam["streams"] = {"main": urls[len(ids)], "sub": None,
                              **(streams[len(ids)] if streams else {})}
            ids.append(cam["id"])
        else:
            cam["enabled"] = False
    town["detection"] = {**town["detection"], **(detection or {})}
    town["edge"] = {**town["edge"], "hub_url": hub_url, "data_dir": str(path.parent / "edge"), **(edge or {})}
    path.write_text(yaml.safe_dump(town, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_town(path)
    return ids
