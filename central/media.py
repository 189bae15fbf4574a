"""Snapshots, clips and evidence photos on disk, under names the server makes.

A client never chooses a file name: names are random hex plus a fixed extension, and a name asked for
must match that pattern exactly, so nothing can point outside the media folder.
"""

from __future__ import annotations

import ctypes
import io
import logging
import os
import re
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

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


def new_name(ext: str) -> str:
    """A fresh server-made file name (random, so nobody can guess or choose it)."""
    if ext not in CONTENT_TYPES:
        raise ValueError(ext)
    return f"{secrets.token_hex(16)}.{ext}"


class MediaStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._syncfs = _load_syncfs()

    def save(self, data: bytes, ext: str) -> str:
        """Write one file durably (fsync) and return its name."""
        name = new_name(ext)
        self.write(name, data)
        self.sync([name])
        return name

    def write(self, name: str, data: bytes) -> None:
        """Write a file under a name from :func:`new_name`, NOT yet durable: call :meth:`sync` on a
        batch of names before anything that refers to them commits. The name is new and nothing
        refers to it before that commit, so no temporary file and rename are needed."""
        if not NAME_RE.fullmatch(name):
            raise ValueError(name)
        path = self.root / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # the first file: make the folder
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def sync(self, names: list[str]) -> None:
        """Make written files and their directory entries durable: one ``syncfs`` of the media
        file system for the whole batch (an fsync per file costs a journal commit each), or, where
        that call is missing, an fsync per file and one of the directory."""
        if not names:
            return
        dir_fd = os.open(self.root, os.O_RDONLY)
        try:
            if self._syncfs is not None and self._syncfs(dir_fd) == 0:
                return
            for name in names:
                fd = os.open(self.root / name, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

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


def _load_syncfs() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """Linux's ``syncfs(fd)`` from the C library, or None where there is none."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        log.debug("syncfs not available; media files are fsynced one by one")
        return None
    fn.argtypes, fn.restype = [ctypes.c_int], ctypes.c_int
    return fn
