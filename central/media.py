"""Snapshots, clips and evidence photos on disk, under names the server makes.

A client never chooses a file name: names are random hex plus a fixed extension, and a name asked for
must match that pattern exactly, so nothing can point outside the media folder.
"""

from __future__ import annotations

import io
import os
import re
import secrets
from pathlib import Path

NAME_RE = re.compile(r"^[0-9a-f]{32}\.(jpg|mp4)$")
CONTENT_TYPES = {"jpg": "image/jpeg", "mp4": "video/mp4"}
#: Largest picture accepted (a 1 MB JPEG can claim huge dimensions).
MAX_PIXELS = 40_000_000


class BadMedia(ValueError):
    pass


def check_jpeg(data: bytes) -> None:
    """Refuse anything that is not a decodable JPEG (magic bytes alone are easy to fake)."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format != "JPEG":
                raise BadMedia("not a JPEG image")
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise BadMedia(f"image is {width}x{height}, more than {MAX_PIXELS} pixels")
            img.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # decode at 1/8: cheap, still a check
            img.load()
    except BadMedia:
        raise
    except Exception as exc:  # Pillow raises many kinds on broken files (OSError, SyntaxError, bombs...)
        raise BadMedia(f"not a valid JPEG image ({exc.__class__.__name__})") from None


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, data: bytes, ext: str) -> str:
        if ext not in CONTENT_TYPES:
            raise ValueError(ext)
        self.root.mkdir(parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.{ext}"
        tmp = self.root / f".{name}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.root / name)
        return name

    def path(self, name: str) -> Path | None:
        """The file for a server-made name, or None for anything else (or missing)."""
        if not NAME_RE.fullmatch(name):
            return None
        path = self.root / name
        return path if path.is_file() else None

    def delete(self, name: str | None) -> None:
        if name and NAME_RE.fullmatch(name):
            (self.root / name).unlink(missing_ok=True)


def media_url(name: str | None) -> str | None:
    return None if name is None else f"/api/v1/media/{name}"
