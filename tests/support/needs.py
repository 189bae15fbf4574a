"""What a test needs from the machine (Chromium, GStreamer's RTSP server, ffmpeg, PostgreSQL, the real
footage): where it is missing the test is skipped, except on CI (``CI=true``), where a missing tool
is a broken CI machine and the test FAILS, so that nothing is silently left out there.

    require(shutil.which("ffmpeg") is not None, "ffmpeg", "Debian package ffmpeg")   # in a test/fixture
    @needs(VTEST.is_file(), "the real footage", "scripts/fetch_footage.sh")         # as a mark

The mark is read by ``tests/conftest.py`` when each test is set up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FOOTAGE = Path(__file__).resolve().parents[2] / "data" / "footage" / "vtest.avi"


def on_ci() -> bool:
    return os.environ.get("CI") == "true"


def missing(what: str, hint: str) -> NoReturn:
    """Skip the running test for lack of ``what``; on CI, fail it."""
    if on_ci():
        pytest.fail(f"{what} is missing on CI (CI=true), where every test must run: {hint}")
    pytest.skip(f"{what} is missing: {hint}")


def require(present: bool, what: str, hint: str) -> None:
    """Go on if ``present``; else :func:`missing`."""
    if not present:
        missing(what, hint)


def needs(present: bool, what: str, hint: str) -> pytest.MarkDecorator:
    """A mark: the test runs if ``present``, else it is skipped (failed on CI) when set up."""
    return pytest.mark.needs(present, what, hint)


def has_ffmpeg() -> bool:
    return shutil.which("ffmpeg") is not None


def require_ffmpeg() -> None:
    require(has_ffmpeg(), "ffmpeg", "install the Debian package ffmpeg")


def require_footage() -> None:
    require(FOOTAGE.is_file(), f"the real footage {FOOTAGE}", "run scripts/fetch_footage.sh")


def require_chromium() -> None:
    require(CHROMIUM.exists(), str(CHROMIUM), "install the Debian package chromium")


def require_rtsp() -> None:
    from tests.support.rtsp import rtsp_available

    require(rtsp_available(), "GStreamer RTSP server bindings for /usr/bin/python3",
            "install the Debian packages of scripts/setup.sh (python3-gi, gir1.2-gst-rtsp-server-1.0)")
