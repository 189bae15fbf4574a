"""A real hub and a real edge worker for the console's browser tests, started one way.

The browser tests each need a hub process on a town file and an edge process for its node with an
edge token; :func:`hub_and_edge` starts both, and stops them (edge first) however the test ends.
:func:`live_video` is the camera's picture: the real footage where it is present.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.console import media
from tests.edge.procs import EdgeProcess
from tests.edge.town import NODE
from tests.support.hub import HubProcess, make_token
from tests.support.needs import require_ffmpeg


def live_video(folder: Path) -> Path:
    """The camera's video: the real footage when present, else a clip generated in ``folder``."""
    if media.FOOTAGE.is_file():
        return media.FOOTAGE
    require_ffmpeg()  # to make a test video when data/footage/vtest.avi is missing
    out = folder / "camera.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=640x480:rate=10",
                    "-t", "10", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@contextmanager
def hub_and_edge(folder: Path, town_file: Path, edge_args: tuple[str, ...] = (),
                 node: str = NODE) -> Iterator[tuple[HubProcess, EdgeProcess]]:
    """``gridwatch hub`` on a SQLite file in ``folder`` and ``gridwatch edge`` for ``node`` (its token
    in ``folder/edge.token``, its data in ``folder/edge``, its log in ``folder/edge.log``); extra
    edge arguments (``--secrets``, ``--live-port``) in ``edge_args``."""
    hub = HubProcess(db_url=f"sqlite:///{folder / 'hub.db'}", config=town_file).start()
    edge: EdgeProcess | None = None
    try:
        token_file = folder / "edge.token"
        token_file.write_text(make_token(hub.db_url, "edge", node=node))
        edge = EdgeProcess(["edge", "--config", str(town_file), "--node", node, "--hub", hub.url,
                            "--token-file", str(token_file), "--data-dir", str(folder / "edge"),
                            *edge_args], folder / "edge.log").start()
        yield hub, edge
    finally:
        if edge is not None:
            edge.terminate()
        hub.stop()
