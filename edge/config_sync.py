"""The edge's configuration from the hub's camera registry: fetch, check, keep on disk, hand over.

An edge node asks the hub for its cameras (``GET /api/v1/registry/nodes/<node>/config``, with
``If-None-Match``: a 304 costs nothing) when it starts, whenever a heartbeat answer names a newer
registry revision, and every ``edge.config_poll_s`` seconds in case answers were lost. A document the
node can run is saved next to the outbox (``registry-config.json``) and handed to the worker, which
swaps cameras in place (edge.worker.EdgeWorker.request_config). One it cannot run (invalid for this
software, a secret missing on this box, a change of analysis rate that needs a restart) is refused:
the reason goes into every heartbeat (``config_error``) and the previous configuration keeps running.
With no hub, the node starts from its saved copy, or from its town folder when it never had one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from edge.secrets import Secrets, SecretsError
from gridwatch.config.schema import Camera, DetectionSettings, Town
from gridwatch.logs import redact

log = logging.getLogger("gridwatch.edge.config")

FILE_NAME = "registry-config.json"


class ConfigRefused(Exception):
    """This node cannot run the document; ``str()`` is the reason shown to the maintainer."""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """A registry document this node can run: its revision and the town built from it."""

    revision: int
    town: Town
    doc: dict[str, Any]


def build(doc: Any, local: Town, node_id: str, secrets: Secrets,
          running: DetectionSettings | None = None) -> NodeConfig:
    """Check a registry document and build the town this node runs from it (``local``, its own town
    folder, gives everything the document does not: edge settings, villages, ...). ``running``: the
    detection settings of a worker that would take it without a restart."""
    if not isinstance(doc, dict) or not isinstance(doc.get("revision"), int):
        raise ConfigRefused("the hub's answer is not a registry document")
    revision = doc["revision"]
    if doc.get("node_id") != node_id:
        raise ConfigRefused(f"revision {revision} is for node {doc.get('node_id')!r}, not {node_id!r}")
    try:
        detection = DetectionSettings.model_validate(doc.get("detection") or {})
        cameras = [Camera.model_validate(c) for c in doc.get("cameras") or []]
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigRefused(f"revision {revision} does not fit this edge's software ({where}: {err['msg']}); "
                            "update the edge") from None
    others = [c.id for c in cameras if c.node != node_id]
    if others:
        raise ConfigRefused(f"revision {revision} has cameras of other nodes: {', '.join(others[:5])}")
    if running is not None and (running.analysis_fps, running.analysis_width) != (
            detection.analysis_fps, detection.analysis_width):
        raise ConfigRefused(
            f"revision {revision} changes the analysis rate or width ({running.analysis_fps} fps at "
            f"{running.analysis_width} px -> {detection.analysis_fps} fps at {detection.analysis_width} px): "
            "restart the edge to apply it")
    try:
        resolved = [secrets.resolve(c) if c.enabled else c for c in cameras]
    except SecretsError as exc:
        raise ConfigRefused(f"revision {revision}: {exc}") from None
    mine = {c.id for c in resolved}
    kept = [c for c in local.cameras if c.node != node_id and c.id not in mine]
    town = local.model_copy(update={"cameras": kept + resolved, "detection": detection})
    return NodeConfig(revision=revision, town=town, doc=doc)


class ConfigStore:
    """The last good document, next to the outbox; written atomically (a crash leaves the old one)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME

    def load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.error("config: cannot read the saved configuration %s (%s); ignoring it", self.path, exc)
            return None
        return data if isinstance(data, dict) else None

    def save(self, doc: dict[str, Any]) -> None:
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


class HubConfigClient:
    """``GET /api/v1/registry/nodes/<node>/config`` with the node's token and ``If-None-Match``."""

    def __init__(self, hub_url: str, node_id: str, token_source: Callable[[], str | None],
                 timeout_s: float = 10.0) -> None:
        self.url = f"{hub_url.rstrip('/')}/api/v1/registry/nodes/{node_id}/config"
        self._tokens, self._timeout = token_source, timeout_s

    def fetch(self, etag: str | None) -> tuple[dict[str, Any] | None, str | None]:
        """(document, its ETag), or (None, etag) when unchanged; httpx.HTTPError or ValueError when
        the hub cannot be asked or answers something else."""
        headers = {}
        token = self._tokens()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if etag:
            headers["If-None-Match"] = etag
        resp = httpx.get(self.url, headers=headers, timeout=self._timeout, trust_env=False)
        if resp.status_code == 304:
            return None, etag
        if resp.status_code != 200:
            raise ValueError(f"HTTP {resp.status_code}: {resp.text[:300]}")
        return resp.json(), resp.headers.get("etag")


Apply = Callable[[NodeConfig], None]


class ConfigSync:
    """Keeps a node on the registry's newest revision it can run; ``start()``/``stop()``.

    ``version``: the revision running (None: the town folder); ``error``: why the newest was refused.
    """

    def __init__(self, client: HubConfigClient, store: ConfigStore, local: Town, node_id: str,
                 secrets: Secrets, apply: Apply, running: Callable[[], DetectionSettings],
                 poll_s: float) -> None:
        self.client, self.store, self.local, self.node_id = client, store, local, node_id
        self.secrets, self._apply, self._running, self.poll_s = secrets, apply, running, poll_s
        self.version: int | None = None
        self.error: str | None = None
        self._etag: str | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- at start, before the worker exists ----------------------------------------------------

    def initial(self) -> NodeConfig | None:
        """The configuration to start with: the hub's newest, else the saved copy, else None (the town
        folder). Never raises: a hub that is down or a refused document is logged and reported."""
        try:
            doc, etag = self.client.fetch(None)
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("config: hub unreachable for the configuration (%s)", redact(str(exc)) or type(exc))
            doc, etag = None, None
        if doc is not None:
            try:
                cfg = build(doc, self.local, self.node_id, self.secrets)
            except ConfigRefused as exc:
                self._refuse(str(exc), etag)
            else:
                self._etag = etag
                self._accepted(cfg, "the hub", hand_over=False)
                self.version = cfg.revision
                return cfg
        saved = self.store.load()
        if saved is not None:
            try:
                cfg = build(saved, self.local, self.node_id, self.secrets)
            except ConfigRefused as exc:
                log.error("config: the saved configuration cannot be used either: %s", exc)
            else:
                self.version = cfg.revision
                log.info("config: running revision %d from %s (the hub did not give a newer one)",
                         cfg.revision, self.store.path)
                return cfg
        log.info("config: running the town folder's cameras until the hub gives a configuration")
        return None

    # -- while running --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="config-sync", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(15)
            self._thread = None

    def poke(self, revision: Any) -> None:
        """A heartbeat answer named the registry's revision: fetch now if it is not the one we have."""
        if isinstance(revision, int) and self._etag != f'"r{revision}"':
            self._wake.set()

    def check_now(self) -> None:
        """One fetch, and apply what came (the loop's body; tests call it directly)."""
        try:
            doc, etag = self.client.fetch(self._etag)
        except (httpx.HTTPError, ValueError) as exc:
            log.debug("config: fetch failed: %s", redact(str(exc)))
            return
        if doc is None:
            return
        try:
            cfg = build(doc, self.local, self.node_id, self.secrets, running=self._running())
        except ConfigRefused as exc:
            self._refuse(str(exc), etag)
            return
        self._etag = etag
        self._accepted(cfg, "the hub")

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.check_now()
            except Exception:  # never let the sync die: the node keeps running what it has
                log.exception("config: check failed")

    def _accepted(self, cfg: NodeConfig, source: str, hand_over: bool = True) -> None:
        try:
            self.store.save(cfg.doc)
        except OSError as exc:
            log.error("config: cannot save revision %d to %s: %s", cfg.revision, self.store.path, exc)
        with self._lock:
            self.error = None
        if hand_over:
            self._apply(cfg)
        log.info("config: revision %d from %s: %d cameras", cfg.revision, source,
                 len(cfg.town.cameras_of(self.node_id)))

    def _refuse(self, reason: str, etag: str | None) -> None:
        self._etag = etag  # not asked for again until the registry moves on
        with self._lock:
            self.error = reason[:2000]  # the heartbeat's limit
        log.error("config: refused: %s; still running %s", reason,
                  f"revision {self.version}" if self.version is not None else "the town folder")

    def now_running(self, revision: int) -> None:
        """The worker runs ``revision`` now (called once it has swapped its cameras)."""
        self.version = revision


def plan_changes(old: dict[str, tuple[Camera, DetectionSettings]],
                 new: dict[str, tuple[Camera, DetectionSettings]]) -> tuple[list[str], list[str], list[str]]:
    """(added, removed, changed) camera ids; any camera in neither list keeps its pipeline."""
    added = [cid for cid in new if cid not in old]
    removed = [cid for cid in old if cid not in new]
    changed = [cid for cid in new if cid in old and old[cid] != new[cid]]
    return added, removed, changed
