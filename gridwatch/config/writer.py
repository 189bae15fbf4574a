"""Write a town back to YAML in one canonical form, so that export after import gives the same bytes.

The form is the one ``configs/generate_yongshan.py`` writes: PyYAML's safe dumper, keys in schema
order, short sequences and mappings inline, 110 columns, and equal region polygons written once with
an anchor and then as aliases (a town has 280 cameras and a handful of region shapes). Each file keeps
the comment lines it had at its top when imported (``header``). Only keys that were given are written
(``model_dump(exclude_unset=True)``), so a default is not spelled out on export when the file left it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from gridwatch.config.schema import SECTIONS, Town

WIDTH = 110


def section_documents(town: Town) -> dict[str, Any]:
    """Each section as the JSON-able value its file holds (only the keys that were set)."""
    return town.model_dump(mode="json", exclude_unset=True)


def section_text(value: Any, header: str = "") -> str:
    """The YAML text of one section file: its header comment lines, then the value."""
    body = yaml.safe_dump(_intern_polygons(value), allow_unicode=True, sort_keys=False,
                          default_flow_style=None, width=WIDTH)
    return header + body


def file_header(text: str) -> str:
    """The comment lines at the top of a YAML file (kept on export)."""
    out = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        out.append(line if line.endswith("\n") else line + "\n")
    return "".join(out)


def write_folder(out: Path, sections: Mapping[str, Any], headers: Mapping[str, str]) -> list[Path]:
    """Write one ``<section>.yaml`` per section into ``out`` (made if missing); returns the files."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for section in SECTIONS:
        if section not in sections:
            continue
        path = out / f"{section}.yaml"
        path.write_text(section_text(sections[section], headers.get(section, "")), encoding="utf-8")
        files.append(path)
    return files


def _intern_polygons(value: Any) -> Any:
    """A copy of ``value`` in which equal ``polygon`` lists are one object (YAML anchors them)."""
    seen: dict[str, Any] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "polygon" and isinstance(v, list):
                    key = repr(v)
                    out[k] = seen.setdefault(key, [list(p) if isinstance(p, list | tuple) else p for p in v])
                else:
                    out[k] = walk(v)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value)
