"""One HTTP attempt at a message: render it for its channel, send it, judge the answer.

A 2xx answer is a delivery, except from the WeCom and DingTalk robots, which answer 200 with an
``errcode`` that must be 0. Error texts are kept for admins, so they never carry the URL (a robot's
URL holds its key) or a secret.
"""

from __future__ import annotations

import json

import httpx

from central.notifications.channels import ReadyChannel
from central.notifications.formats import OutMessage, Request, render
from central.notifications.queue import Claimed


def out_message(claimed: Claimed) -> OutMessage:
    p = claimed.payload
    return OutMessage(
        claimed.delivery_id,
        claimed.channel,
        str(p.get("town", "")),
        dict(p.get("recipient", {})),
        list(p.get("notices", [])),
    )


def attempt(client: httpx.Client, ch: ReadyChannel, claimed: Claimed, now_ms: int) -> str | None:
    """Send once; None on success, else why not (one line, without the URL or the secret)."""
    req = render(ch, out_message(claimed), now_ms)
    error = _attempt(client, ch, req)
    if error is None:
        return None
    for private in (req.url, ch.url, ch.secret):
        if private:
            error = error.replace(private, "<hidden>")
    return error


def _attempt(client: httpx.Client, ch: ReadyChannel, req: Request) -> str | None:
    try:
        resp = client.request(
            req.method, req.url, headers=req.headers, content=req.body or None, timeout=ch.config.timeout_s
        )
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {_first_line(exc)}"
    if not 200 <= resp.status_code < 300:
        return f"HTTP {resp.status_code}: {_first_line(resp.text[:200])}"
    if ch.type in ("wecom", "dingtalk"):
        try:
            answer = json.loads(resp.content)
        except ValueError:
            return "the robot's answer is not JSON"
        if not isinstance(answer, dict) or answer.get("errcode", 0) != 0:
            err = answer.get("errcode") if isinstance(answer, dict) else None
            msg = answer.get("errmsg", "") if isinstance(answer, dict) else ""
            return f"robot refused: errcode {err} {_first_line(str(msg))[:200]}"
    return None


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__
