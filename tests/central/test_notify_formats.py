"""Each channel's request for a stored message: pure, no sockets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest

from central.notifications.channels import ReadyChannel, ready_channels
from central.notifications.formats import MAX_MARKDOWN_BYTES, OutMessage, markdown, render
from gridwatch.config import ConfigError
from gridwatch.config.notifications import Channel
from tests.central.notify_support import ENV, SECRET, settings


def _notice(i: int, **kw) -> dict:
    return {
        "trigger": "new_order",
        "event_id": i,
        "event_type": "work_order.created",
        "at": "x",
        "title": f"新工单 #{i} · 山体滑坡 · P1",
        "lines": ["处置部门: 自然资源规划与服务中心", "描述: 塌方"],
        "url": f"http://console.test/#/orders/{i}",
        "order_id": i,
        "camera_id": None,
        "data": {},
    } | kw


def _msg(n: int = 1, **kw) -> OutMessage:
    return OutMessage(
        "gwn-abc",
        "ops",
        "涌山镇",
        {"kind": "worker", "id": "w-01", "name": "张勇", "phone": "555-0101"},
        [_notice(i + 1, **kw) for i in range(n)],
    )


@pytest.fixture(scope="module")
def chans() -> dict[str, ReadyChannel]:
    return ready_channels(settings("http://127.0.0.1:9"), ENV)


def test_webhook_is_signed_json_with_the_delivery_id(chans) -> None:
    req = render(chans["ops"], _msg(2), 0)
    assert req.method == "POST" and req.url == "http://127.0.0.1:9/ops"
    expected = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Gridwatch-Signature"] == f"sha256={expected}"
    assert req.headers["X-Gridwatch-Delivery"] == "gwn-abc"
    body = json.loads(req.body)
    assert body["delivery_id"] == "gwn-abc" and body["count"] == 2 and body["town"] == "涌山镇"
    assert [n["order_id"] for n in body["notices"]] == [1, 2]
    assert body["recipient"]["id"] == "w-01"
    # the same message renders to the same bytes on every retry
    assert render(chans["ops"], _msg(2), 99).body == req.body


def test_webhook_without_a_secret_is_unsigned() -> None:
    ch = ReadyChannel(Channel(name="w", type="webhook", url="http://h/x"), "http://h/x", None)
    assert "X-Gridwatch-Signature" not in render(ch, _msg(), 0).headers


def test_wecom_markdown_links_the_order_and_defuses_text(chans) -> None:
    req = render(chans["wecom-nr"], _msg(1, lines=["描述: 塌方 [点我](http://evil) <b>*x*</b>"]), 0)
    body = json.loads(req.body)
    assert body["msgtype"] == "markdown" and set(body) == {"msgtype", "markdown"}
    content = body["markdown"]["content"]
    assert "**新工单 #1 · 山体滑坡 · P1**" in content
    assert "[查看工单](http://console.test/#/orders/1)" in content
    assert "](http://evil)" not in content and "<b>" not in content and "*x*" not in content


def test_dingtalk_markdown_with_signed_url(chans) -> None:
    ts = 1764835200123
    req = render(chans["ding-duty"], _msg(3), ts)
    body = json.loads(req.body)
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "涌山镇 · 3 条通知"
    assert body["markdown"]["text"].count("[查看工单](") == 3
    parts = urlsplit(req.url)
    assert parts.path == "/ding"
    query = parse_qs(parts.query)
    assert query["access_token"] == ["t"] and query["timestamp"] == [str(ts)]
    raw_sign = req.url.split("sign=", 1)[1]
    mac = hmac.new(b"SEC-ding", f"{ts}\nSEC-ding".encode(), hashlib.sha256).digest()
    assert base64.b64decode(unquote_plus(raw_sign)) == mac


def test_long_groups_are_cut_and_counted() -> None:
    text = markdown(_msg(200))
    assert len(text.encode()) <= MAX_MARKDOWN_BYTES
    shown = text.count("[查看工单](")
    assert 5 < shown < 200 and f"…另有 {200 - shown} 条" in text


def test_sms_template_escapes_for_json(chans) -> None:
    req = render(chans["sms"], _msg(1, title='新工单 "引号" \\ 反斜杠\n换行'), 0)
    assert req.headers["Authorization"] == "Bearer k-123"
    body = json.loads(req.body)  # still valid JSON
    assert body["to"] == "555-0101" and body["ref"] == "gwn-abc"
    assert body["content"].startswith('【涌山镇】新工单 "引号" \\ 反斜杠 换行。')
    assert body["content"].endswith("http://console.test/#/orders/1")


def test_sms_form_and_get_templates() -> None:
    form = Channel(
        name="s", type="sms", url="http://gw/send", body="to=${phone}&msg=${text}", body_encoding="form"
    )
    req = render(ReadyChannel(form, "http://gw/send", None), _msg(2), 0)
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded"
    q = parse_qs(req.body.decode())
    assert q["to"] == ["555-0101"] and q["msg"][0].startswith("【涌山镇】2条通知：新工单 #1")
    get = Channel(name="g", type="sms", method="GET", url="http://gw/send?to=${phone}&t=${text}&k=${secret}")
    req = render(ReadyChannel(get, get.url or "", "a&b"), _msg(), 0)
    q = parse_qs(urlsplit(req.url).query)
    assert req.method == "GET" and req.body == b""
    assert q["to"] == ["555-0101"] and q["k"] == ["a&b"] and q["t"][0].startswith("【涌山镇】新工单 #1")


def test_missing_secret_variable_stops_start_up() -> None:
    with pytest.raises(ConfigError) as err:
        ready_channels(settings("http://h"), {"GW_TEST_SECRET": "x"})
    assert "GW_TEST_DING_SECRET is not set" in str(err.value)
    assert "notifications.yaml" in str(err.value)


def test_url_from_the_environment() -> None:
    s = settings("http://h").model_copy(
        update={"channels": [Channel(name="r", type="wecom", url_env="ROBOT_URL")]}
    )
    assert ready_channels(s, {"ROBOT_URL": "https://robot/send?key=k"})["r"].url == "https://robot/send?key=k"
    assert "key=k" not in repr(ready_channels(s, {"ROBOT_URL": "https://robot/send?key=k"}))
    with pytest.raises(ConfigError, match="http:// or https://"):
        ready_channels(s, {"ROBOT_URL": "ftp://robot"})
