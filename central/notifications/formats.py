"""Each channel's HTTP request for a stored message. Pure: a message in, method, URL, headers and body
out. The body depends only on the stored message, so every retry sends the same bytes (the same
signature, the same delivery id); only DingTalk's signed URL carries the time of the attempt.

- webhook: JSON ``{"version": 1, "delivery_id", "town", "channel", "recipient", "count", "notices"}``
  with ``X-Gridwatch-Signature: sha256=<hex HMAC-SHA256 of the body with the channel's secret>``.
- wecom: ``{"msgtype": "markdown", "markdown": {"content": ...}}`` (a group robot's webhook).
- dingtalk: ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; with a secret the URL gets
  ``timestamp`` (ms) and ``sign`` = urlencode(base64(HMAC-SHA256(secret, timestamp + "\\n" + secret))).
- sms: the channel's URL, headers and body template filled with the recipient's phone and a short text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from string import Template
from typing import Any
from urllib.parse import quote, quote_plus

from central.notifications.channels import ReadyChannel

#: Robots refuse long messages (WeCom: 4,096 bytes of content); later notices of a long group are
#: counted instead of shown.
MAX_MARKDOWN_BYTES = 3800
MAX_SMS_CHARS = 300
SIGNATURE_HEADER = "X-Gridwatch-Signature"
DELIVERY_HEADER = "X-Gridwatch-Delivery"


@dataclass(frozen=True, slots=True)
class OutMessage:
    """A stored message as the formats see it."""

    delivery_id: str
    channel: str
    town: str
    recipient: dict[str, str]
    notices: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def render(ch: ReadyChannel, msg: OutMessage, now_ms: int) -> Request:
    """The request that delivers ``msg`` over ``ch`` (``now_ms``: the attempt's time, for DingTalk)."""
    if ch.type == "webhook":
        return webhook(ch, msg)
    if ch.type == "wecom":
        body = _json({"msgtype": "markdown", "markdown": {"content": markdown(msg)}})
        return Request("POST", ch.url, _headers(msg, "application/json"), body)
    if ch.type == "dingtalk":
        body = _json({"msgtype": "markdown", "markdown": {"title": title(msg), "text": markdown(msg)}})
        url = ch.url if ch.secret is None else dingtalk_signed_url(ch.url, ch.secret, now_ms)
        return Request("POST", url, _headers(msg, "application/json"), body)
    return sms(ch, msg)


def webhook(ch: ReadyChannel, msg: OutMessage) -> Request:
    body = _json(
        {
            "version": 1,
            "delivery_id": msg.delivery_id,
            "town": msg.town,
            "channel": msg.channel,
            "recipient": msg.recipient,
            "count": len(msg.notices),
            "notices": msg.notices,
        }
    )
    headers = _headers(msg, "application/json")
    if ch.secret is not None:
        headers[SIGNATURE_HEADER] = signature(ch.secret, body)
    return Request("POST", ch.url, headers, body)


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature, already URL-encoded for the query string."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(mac).decode())


def dingtalk_signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}timestamp={timestamp_ms}&sign={dingtalk_sign(secret, timestamp_ms)}"


def title(msg: OutMessage) -> str:
    if len(msg.notices) == 1:
        return _safe(msg.notices[0]["title"])
    return f"{msg.town} · {len(msg.notices)} 条通知"


def markdown(msg: OutMessage) -> str:
    """The robots' markdown: a heading for a group, then each notice with its lines and a link; as
    many notices as fit, the rest counted."""
    head = f"### {title(msg)}\n\n" if len(msg.notices) > 1 else ""
    parts: list[str] = []
    used = len(head.encode())
    for i, n in enumerate(msg.notices):
        link = "查看摄像头" if n.get("camera_id") and not n.get("order_id") else "查看工单"
        block = "\n".join(
            [
                f"**{_safe(n['title'])}**",
                *(f"> {_safe(line)}" for line in n.get("lines", [])),
                f"[{link}]({_url(n['url'])})",
            ]
        )
        rest = len(msg.notices) - i - 1
        tail = f"\n\n…另有 {rest} 条" if rest else ""
        if parts and used + len(block.encode()) + len(tail.encode()) + 2 > MAX_MARKDOWN_BYTES:
            parts.append(f"…另有 {len(msg.notices) - i} 条")
            break
        parts.append(block)
        used += len(block.encode()) + 2
    return head + "\n\n".join(parts)


def sms_text(msg: OutMessage) -> str:
    prefix = f"【{msg.town}】" if msg.town else ""
    if len(msg.notices) == 1:
        n = msg.notices[0]
        lines = "；".join(_plain(x) for x in n.get("lines", [])[:2])
        text = f"{prefix}{_plain(n['title'])}。{lines} {n['url']}"
    else:
        titles = "；".join(_plain(n["title"]) for n in msg.notices[:5])
        more = " 等" if len(msg.notices) > 5 else ""
        text = f"{prefix}{len(msg.notices)}条通知：{titles}{more}"
    return text if len(text) <= MAX_SMS_CHARS else text[: MAX_SMS_CHARS - 1] + "…"


def sms(ch: ReadyChannel, msg: OutMessage) -> Request:
    cfg = ch.config
    values = {
        "phone": msg.recipient.get("phone", ""),
        "text": sms_text(msg),
        "delivery_id": msg.delivery_id,
        "recipient_id": msg.recipient.get("id", ""),
        "recipient_name": msg.recipient.get("name", ""),
        "secret": ch.secret or "",
    }
    url = Template(ch.url).substitute({k: quote(v, safe="") for k, v in values.items()})
    headers = {DELIVERY_HEADER: msg.delivery_id}
    headers.update({k: Template(v).substitute(values) for k, v in cfg.headers.items()})
    body = b""
    if cfg.body is not None:
        if cfg.body_encoding == "json":
            escaped = {k: json.dumps(v, ensure_ascii=False)[1:-1] for k, v in values.items()}
            body = Template(cfg.body).substitute(escaped).encode()
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        elif cfg.body_encoding == "form":
            body = Template(cfg.body).substitute({k: quote_plus(v) for k, v in values.items()}).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        else:
            body = Template(cfg.body).substitute(values).encode()
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    return Request(cfg.method, url, headers, body)


def _headers(msg: OutMessage, content_type: str) -> dict[str, str]:
    return {"Content-Type": f"{content_type}; charset=utf-8", DELIVERY_HEADER: msg.delivery_id}


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


_MD = str.maketrans({"[": "［", "]": "］", "<": "‹", ">": "›", "*": "＊", "`": "'"})


def _safe(text: Any) -> str:
    """Text from orders and reports inside markdown: one line, no links, emphasis or headings of its own."""
    return _plain(text).translate(_MD)


def _plain(text: Any) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _url(url: str) -> str:
    return url.replace(" ", "%20").replace(")", "%29").replace("(", "%28")
