"""Delivery: moves outbox rows to the hub over HTTP, oldest first per lane, until each is acknowledged.

What an answer means (the hub's contract):
- 2xx (including an alert receipt with ``duplicate: true``): the hub has it, the row is deleted.
- 401, 408, 429, 5xx, connection errors and timeouts: try again later with capped exponential
  backoff and jitter (a 401 is logged loudly: the token is wrong or revoked and someone must fix it,
  but the alert must still go out once they have).
- any other 4xx (403 camera not ours, 404 unknown camera, 413 too large, 422 invalid): this message
  will never be accepted; it goes to the dead-letter table with the hub's reason.
A failing lane (one camera's message the hub keeps answering 5xx to) backs off alone; a hub that
cannot be reached at all backs everything off.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import httpx

from edge.backoff import Backoff
from edge.outbox import Message, Outbox
from gridwatch.logs import redact

log = logging.getLogger("gridwatch.edge.delivery")

RETRYABLE_4XX = frozenset({401, 408, 425, 429})


def classify(status: int) -> str:
    """'ok', 'retry' or 'dead' for an HTTP status from the hub."""
    if 200 <= status < 300:
        return "ok"
    if status >= 500 or status in RETRYABLE_4XX or status < 200:
        return "retry"
    if 300 <= status < 400:
        return "retry"  # a redirect means a misconfigured hub URL; keep the message
    return "dead"


class Delivery:
    """A thread that drains the outbox to the hub; ``start()``/``stop()``."""

    def __init__(self, outbox: Outbox, hub_url: str, token_source: Callable[[], str | None],
                 backoff_cap_s: float = 30.0, timeout_s: float = 10.0) -> None:
        self.outbox = outbox
        self.hub_url = hub_url.rstrip("/")
        self._token_source = token_source
        self._cap = backoff_cap_s
        self._timeout = timeout_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(base=0.5, cap=backoff_cap_s)
        self._lanes: dict[str, tuple[float, Backoff]] = {}  # lane -> (not before, its backoff)
        self.sent = 0
        self.failures = 0
        self.hub_reachable: bool | None = None
        #: Called with the hub's answer to each delivered heartbeat (it names the registry revision).
        self.on_heartbeat_answer: Callable[[object], None] | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="delivery", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self.outbox.changed.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout, trust_env=False) as client:
            while not self._stop.is_set():
                try:
                    delay = self._round(client)
                except Exception:  # e.g. the outbox's disk is full: never let delivery die for good
                    log.exception("delivery: round failed; retrying with backoff")
                    delay = self._backoff.next()
                if delay is None:
                    self.outbox.changed.wait(1.0)
                    self.outbox.changed.clear()
                else:
                    self._stop.wait(delay)

    def _round(self, client: httpx.Client) -> float | None:
        """Send each lane's head once. None: nothing (more) to do now; else seconds to wait."""
        now = time.monotonic()
        blocked = frozenset(lane for lane, (until, _) in self._lanes.items() if until > now)
        heads = self.outbox.heads(skip_lanes=blocked)
        if not heads:
            if blocked:
                return max(0.05, min(until for until, _ in self._lanes.values()) - now)
            return None
        for msg in heads:
            if self._stop.is_set():
                return 0
            verdict = self._send(client, msg)
            if verdict == "unreachable":
                return self._backoff.next()
        self._backoff.reset()
        return 0

    def _send(self, client: httpx.Client, msg: Message) -> str:
        headers = {"Content-Type": "application/json"}
        token = self._token_source()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            resp = client.post(self.hub_url + msg.path, content=msg.body, headers=headers)
        except httpx.HTTPError as exc:
            self.failures += 1
            self.outbox.failed(msg.id, redact(f"{type(exc).__name__}: {exc}"))
            if self.hub_reachable is not False:
                log.warning("delivery: hub %s unreachable (%s); retrying with backoff",
                            redact(self.hub_url), redact(str(exc)) or type(exc).__name__)
            self.hub_reachable = False
            return "unreachable"
        if self.hub_reachable is False:
            log.info("delivery: hub %s reachable again", redact(self.hub_url))
        self.hub_reachable = True
        verdict = classify(resp.status_code)
        if verdict == "ok":
            self.outbox.ack(msg.id)
            if msg.kind == "heartbeat" and self.on_heartbeat_answer is not None:
                try:
                    self.on_heartbeat_answer(resp.json())
                except Exception:  # an odd answer must not stop delivery
                    log.debug("delivery: heartbeat answer not understood", exc_info=True)
            self._lanes.pop(msg.lane, None)
            self.sent += 1
            return "ok"
        reason = _reason(resp)
        if verdict == "dead":
            self.outbox.dead_letter(msg.id, resp.status_code, reason)
            self._lanes.pop(msg.lane, None)
            return "dead"
        self.failures += 1
        self.outbox.failed(msg.id, f"HTTP {resp.status_code}: {reason}")
        if resp.status_code == 401:
            log.error("delivery: the hub refuses this node's token (401); fix the token, messages are kept")
            return "unreachable"  # the same for every lane: back off as a whole
        _, lane_backoff = self._lanes.get(msg.lane, (0.0, Backoff(base=0.5, cap=self._cap)))
        wait = lane_backoff.next()
        self._lanes[msg.lane] = (time.monotonic() + wait, lane_backoff)
        log.warning("delivery: %s %s got HTTP %d (%s); lane %s retries in %.1f s",
                    msg.kind, msg.msg_id, resp.status_code, reason[:200], msg.lane, wait)
        return "retry"


def _reason(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:500] or resp.reason_phrase
    if isinstance(data, dict) and "detail" in data:
        return str(data["detail"])[:2000]
    return str(data)[:2000]
