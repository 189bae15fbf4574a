"""The demo clip, made once per test session by ``scripts/make_demo_clip.py`` (as a user runs it).

Making it takes a minute of CPU, and four tests used to make the same clip (seed 3) each; the script's
own test checks this one, the others read it. ``gridwatch demo``'s own making of a missing clip is
still exercised end to end by tests/e2e/test_demo.py's first test. Under pytest-xdist the workers
share one clip: the first to need it makes it under a lock, the others wait and read it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``demo_clip.mp4`` with its labels ``demo_clip.json`` beside it; read it, never change it."""
    base = tmp_path_factory.getbasetemp()
    # xdist: every worker's base folder sits in the session's own folder, which they share
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "demo_clip"
    folder.mkdir(exist_ok=True)
    out = folder / "demo_clip.mp4"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out.is_file() and out.with_suffix(".json").is_file()):
            proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_demo_clip.py"), str(out)],
                                  capture_output=True, text=True, cwd=REPO, timeout=600)
            assert proc.returncode == 0, proc.stderr
    return out
