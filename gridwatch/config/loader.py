"""Read a town from YAML, validate it once, and fail with one clear error.

A town is either a directory with one file per section (``cameras.yaml``, ``grids.yaml``, ...) or a
single YAML file whose top-level keys are the sections. Errors name the file, the key path and the
reason, never a stack trace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gridwatch.config.schema import SECTIONS, Roi, Town, validate_polygon
from gridwatch.wire import EventKind

OPTIONAL_SECTIONS = frozenset({"detection", "edge", "hub"})


class ConfigError(Exception):
    """A town config that cannot be used. ``str()`` is the message to show a person."""

    def __init__(self, file: Path | str, key: str, reason: str) -> None:
        self.file, self.key, self.reason = str(file), key, reason
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {reason}")


def load_town(path: Path | str) -> Town:
    """Load and cross-check a town; raises :class:`ConfigError` on anything wrong."""
    root = Path(path)
    if not root.exists():
        raise ConfigError(root, "", "no such file or directory")
    raw, origin = _read_dir(root) if root.is_dir() else _read_file(root)
    try:
        town = Town.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        section = str(loc[0]) if loc else ""
        key = _key_path(loc, raw)
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(origin.get(section, root), key, _reason(err) + more) from None
    _cross_check(town, lambda section: origin.get(section, root))
    return town


def _read_dir(root: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    raw: dict[str, Any] = {}
    origin: dict[str, Path] = {}
    for section in SECTIONS:
        candidates = (root / f"{section}{ext}" for ext in (".yaml", ".yml"))
        file = next((c for c in candidates if c.exists()), None)
        if file is None:
            if section not in OPTIONAL_SECTIONS:
                raise ConfigError(root / f"{section}.yaml", "", "missing section file")
            continue
        raw[section] = _yaml(file)
        origin[section] = file
    unknown = sorted(p.name for p in root.glob("*.y*ml") if p.stem not in SECTIONS)
    if unknown:
        raise ConfigError(root / unknown[0], "", f"unknown section file (sections: {', '.join(SECTIONS)})")
    return raw, origin


def _read_file(file: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    data = _yaml(file)
    if not isinstance(data, dict):
        raise ConfigError(file, "", "expected a mapping of sections at the top level")
    return data, dict.fromkeys(data, file)


def _yaml(file: Path) -> Any:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(file, "", "not UTF-8 text") from None
    try:
        # libyaml's safe loader when present: the same YAML, ~10x faster on 280 cameras.
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(file, "", f"invalid YAML: {where}{problem}") from None


def _key_path(loc: Sequence[Any], raw: Any) -> str:
    """``cameras[3](cam-004).grid``: positions plus the item's id when it has one."""
    out = ""
    node = raw
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "id" in node:
                out += f"({node['id']})"
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


def _reason(err: Any) -> str:
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    return msg.removeprefix("Value error, ")


def _dupes(values: Iterable[str]) -> list[str]:
    return [v for v, n in Counter(values).items() if n > 1]


def _cross_check(town: Town, file_of: Any) -> None:
    """References between sections: every id used exists, ids are unique, every kind is routed."""

    def fail(section: str, key: str, reason: str) -> None:
        raise ConfigError(file_of(section), key, reason)

    sections: tuple[tuple[str, Sequence[Any]], ...] = (
        ("villages", town.villages), ("grids", town.grids), ("departments", town.departments),
        ("nodes", town.nodes), ("cameras", town.cameras))
    for section, items in sections:  # each item has an ``id``
        for dup in _dupes(i.id for i in items):
            idx = next(n for n, i in enumerate(items) if i.id == dup)
            fail(section, f"{section}[{idx}].id", f"duplicate id {dup!r}")
    for dup in _dupes(s.code for s in town.services):
        fail("services", "services", f"duplicate service code {dup!r}")
    for dup in _dupes(r.kind for r in town.routing):
        fail("routing", "routing", f"two routes for kind {dup!r}")

    villages = {v.id for v in town.villages}
    grids = {g.id: g for g in town.grids}
    departments = {d.id: d for d in town.departments}
    nodes = {n.id for n in town.nodes}

    for gi, grid in enumerate(town.grids):
        for vi, vid in enumerate(grid.villages):
            if vid not in villages:
                fail("grids", f"grids[{gi}]({grid.id}).villages[{vi}]", f"unknown village {vid!r}")
    for di, dep in enumerate(town.departments):
        if dep.parent is not None and dep.parent not in departments:
            fail("departments", f"departments[{di}]({dep.id}).parent", f"unknown department {dep.parent!r}")
        for g in dep.grids:
            if g not in grids:
                fail("departments", f"departments[{di}]({dep.id}).grids", f"unknown grid {g!r}")
    if not any(d.kind == "lead" for d in town.departments):
        fail("departments", "departments", "no duty lead (kind: lead) to escalate to")

    for ci, cam in enumerate(town.cameras):
        key = f"cameras[{ci}]({cam.id})"
        if cam.grid not in grids:
            fail("cameras", f"{key}.grid", f"unknown grid {cam.grid!r}")
        if cam.village not in villages:
            fail("cameras", f"{key}.village", f"unknown village {cam.village!r}")
        if cam.village not in grids[cam.grid].villages:
            fail("cameras", f"{key}.village", f"village {cam.village!r} is not in grid {cam.grid!r}")
        if cam.node not in nodes:
            fail("cameras", f"{key}.node", f"unknown edge node {cam.node!r}")
        for dup in _dupes(r.name for r in cam.rois if r.name != "mask"):
            fail("cameras", f"{key}.rois", f"two regions named {dup!r}")

    routed = {r.kind for r in town.routing}
    for ri, route in enumerate(town.routing):
        if route.department not in departments:
            fail("routing", f"routing[{ri}].department", f"unknown department {route.department!r}")
    service_kinds = {s.kind for s in town.services}
    for kind in sorted({k.value for k in EventKind} | service_kinds):
        if kind not in routed:
            fail("routing", "routing", f"kind {kind!r} has no route")
    for priority in ("P1", "P2", "P3"):
        if not any(d.priority == priority and d.kind is None for d in town.deadlines):
            fail("deadlines", "deadlines", f"no default deadline for priority {priority}")


def parse_roi(text: str) -> Roi:
    """``road=0,0.4 1,0.4 1,1 0,1`` -> Roi; ValueError with a readable reason."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"ROI {text!r} must look like NAME=x,y x,y x,y ...")
    try:
        points = [(float(x), float(y)) for x, y in (p.split(",") for p in rest.split())]
    except ValueError:
        raise ValueError(f"ROI {text!r}: points must be x,y pairs of numbers separated by spaces") from None
    return Roi(name=name.strip(), polygon=validate_polygon(points))
