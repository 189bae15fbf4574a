"""An installed gridwatch needs no dev packages: a wheel of this checkout, installed with only its
``edge`` and ``hub`` extras into a fresh virtual environment, answers ``gridwatch demo --help`` and
``gridwatch edge --help``, loads its ONNX models, makes a demo clip, and starts a hub that answers
HTTP. The build-time tools (evaluation-set generator, training scripts) are not in the wheel."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, timeout: float = 900) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}:\n{out}"
    return proc.stdout


def test_installed_without_dev_packages(tmp_path: Path) -> None:
    # built from a copy of the checkout: setuptools writes build/ beside the sources, and a stale one
    # in the checkout would leak into the wheel
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "data", "var", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "results"))
    wheels = tmp_path / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(src)], tmp_path)
    (wheel,) = wheels.glob("gridwatch-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    py, gridwatch = str(venv / "bin" / "python"), str(venv / "bin" / "gridwatch")
    _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[edge,hub]"], tmp_path)

    # what a dev install would have is not there, nor are the build-time tools
    missing = _run([py, "-c", "import importlib.util as u; print([m for m in ('skimage', 'pytest', "
                    "'onnx', 'models.evalset', 'models.train_blocks') if u.find_spec(m)])"], tmp_path)
    assert missing.strip() == "[]"
    assert "usage: gridwatch demo" in _run([gridwatch, "demo", "--help"], tmp_path)
    assert "usage: gridwatch edge" in _run([gridwatch, "edge", "--help"], tmp_path)
    assert _run([py, "-c", "from edge.onnx_models import load_models; print(type(load_models()).__name__)"],
                tmp_path).strip() == "ModelBundle"
    clip = tmp_path / "clip.mp4"
    _run([py, "-c", "import sys; from pathlib import Path; from gridwatch.democlip import Timeline, "
          "make_demo_clip; make_demo_clip(Path(sys.argv[1]), timeline=Timeline(duration=3.0))", str(clip)],
         tmp_path)
    assert clip.stat().st_size > 0 and clip.with_suffix(".json").exists()

    port = free_port()
    log = (tmp_path / "hub.log").open("wb")
    hub = subprocess.Popen(
        [gridwatch, "hub", "--config", str(REPO / "configs" / "yongshan"), "--db",
         f"sqlite:///{tmp_path / 'hub.db'}", "--host", "127.0.0.1", "--port", str(port),
         "--media-dir", str(tmp_path / "media")],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        answer = None
        while answer is None:
            assert hub.poll() is None, (tmp_path / "hub.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the installed hub did not answer within 120 s"
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.HTTPError:
                time.sleep(0.3)
        assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text
    finally:
        hub.send_signal(signal.SIGINT)
        try:
            hub.wait(timeout=30)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()
        log.close()
