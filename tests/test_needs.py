"""A test whose tool is missing is skipped on a developer's machine and FAILS on CI (CI=true)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.needs import needs, require

REPO = Path(__file__).resolve().parents[1]


def test_missing_tool_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="ffmpeg is missing: install it"):
        require(False, "ffmpeg", "install it")
    require(True, "ffmpeg", "install it")


def test_missing_tool_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="ffmpeg is missing on CI"):
        require(False, "ffmpeg", "install it")
    require(True, "ffmpeg", "install it")


def test_the_mark_carries_what_require_needs() -> None:
    mark = needs(False, "the footage", "fetch it").mark
    assert mark.name == "needs" and mark.args == (False, "the footage", "fetch it")


def _run_marked_test(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    """A test marked as needing a missing tool, run by its own pytest with this suite's hook."""
    (tmp_path / "test_marked.py").write_text(
        "from tests.support.needs import needs\n"
        "@needs(False, 'a tool that is never there', 'nothing to install')\n"
        "def test_marked():\n"
        "    raise AssertionError('the needs mark was not applied')\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    needs: see tests/support/needs.py\n")
    env = {**os.environ, "CI": ci, "PYTHONPATH": str(REPO), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.conftest", "-p", "no:cacheprovider",
           "-c", str(tmp_path / "pytest.ini"), str(tmp_path / "test_marked.py")]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_a_marked_test_is_skipped_outside_ci_and_fails_on_ci(tmp_path: Path) -> None:
    here = _run_marked_test(tmp_path, ci="")
    assert here.returncode == 0 and "1 skipped" in here.stdout, here.stdout
    ci = _run_marked_test(tmp_path, ci="true")
    assert ci.returncode == 1 and "missing on CI" in ci.stdout, ci.stdout
    assert "was not applied" not in ci.stdout
