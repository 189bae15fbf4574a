"""Stream passwords and the node token never reach the log, while the log still names the camera."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from tests.edge.procs import EdgeProcess, wait_for
from tests.edge.town import NODE, write_town
from tests.support.needs import require_rtsp
from tests.support.net import free_port
from tests.support.rtsp import RtspServer

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]


def test_logs_never_contain_a_stream_password(tmp_path: Path) -> None:
    require_rtsp()
    guarded = RtspServer(user="viewer", password="right-pw")
    guarded.start()
    try:
        dead = f"rtsp://viewer:{{password}}@127.0.0.1:{free_port()}/cam"          # nothing listens
        wrong = f"rtsp://viewer:{{password}}@127.0.0.1:{guarded.port}/cam"        # refused: 401
        town = tmp_path / "town.yaml"
        cams = write_town(town, ["rtsp://127.0.0.1:1/a", "rtsp://127.0.0.1:1/b"], f"http://127.0.0.1:{free_port()}",
                          edge={"reconnect_max_s": 1.0, "heartbeat_every_s": 0.5})
        # The passwords live on the edge box only: the town names them, the edge fills them in.
        data = yaml.safe_load(town.read_text(encoding="utf-8"))
        for cam in data["cameras"]:
            if cam["id"] in cams:
                url, ref = (dead, "cam-dead") if cam["id"] == cams[0] else (wrong, "cam-wrong")
                cam["streams"] = {"main": url, "password_ref": ref}
        town.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        vault = tmp_path / "cams.yaml"
        vault.write_text("cam-dead: secret-dead\ncam-wrong: secret-wrong\n", encoding="utf-8")
        token_file = tmp_path / "edge.token"
        token_file.write_text("secret-token-value")
        log_path = tmp_path / "edge.log"
        edge = EdgeProcess(["-v", "edge", "--config", str(town), "--node", NODE, "--token-file",
                            str(token_file), "--data-dir", str(tmp_path / "edge"), "--secrets", str(vault)],
                           log_path).start()
        try:
            # Both cameras have failed and retried a few times, and the hub has been tried.
            wait_for(lambda: all(edge.log().count(f"camera {c}: stream") >= 2 for c in cams), 60,
                     "both cameras to fail and retry", edge.log)
            wait_for(lambda: "hub" in edge.log() and "unreachable" in edge.log(), 30,
                     "a failed delivery", edge.log)
            time.sleep(1.0)
        finally:
            assert edge.terminate() == 0, edge.log()
        text = log_path.read_text(errors="replace")
        assert "secret" not in text
        assert all(c in text for c in cams)
        assert "viewer:***@127.0.0.1" in text  # the URL is shown, redacted, so people can debug it
    finally:
        guarded.stop()
