"""The benchmark scripts still start: each parses its options and imports what it imports at the top.

Benchmarks are run by hand (BENCHMARKS.md), so nothing else would notice a script broken by a
rename in the code it measures until someone needs its figures. Their measurements are not run here
(minutes each, and timings have no place in tests); ``summarize.py`` runs over the committed results.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p for p in (ROOT / "bench").glob("*.py")
                 if not p.name.startswith("_") and "__main__" in p.read_text(encoding="utf-8"))


def test_every_script_is_listed() -> None:
    assert {p.name for p in SCRIPTS} >= {"edge_cost.py", "hub_cost.py", "e2e_latency.py", "summarize.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_shows_its_options(script: Path) -> None:
    out = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout or script.name == "summarize.py", out.stdout[:500]


def test_trivial_app_answers() -> None:
    """The hub's yardstick (served by uvicorn in hub_cost.py) validates an alert as the hub does."""
    from fastapi.testclient import TestClient

    from bench.trivial_app import create_app

    with TestClient(create_app()) as client:
        assert client.get("/healthz").json() == {"ok": True}
        assert client.post("/api/v1/alerts", json={"id": "x"}).status_code == 422


def test_summary_of_the_committed_results() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "summarize.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    for section in ("## edge_cost", "## hub_cost", "## e2e_latency"):
        assert section in out.stdout
