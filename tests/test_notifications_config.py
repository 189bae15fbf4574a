"""notifications.yaml: the sample validates, a broken file fails with file, key and reason."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gridwatch.config import ConfigError, load_town

SAMPLE = Path(__file__).resolve().parent.parent / "configs" / "yongshan"


@pytest.fixture()
def town_dir(tmp_path: Path) -> Path:
    out = tmp_path / "town"
    shutil.copytree(SAMPLE, out)
    return out


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_sample_notifications_are_valid_and_off() -> None:
    n = load_town(SAMPLE).notifications
    assert {c.type for c in n.channels} == {"webhook", "wecom", "dingtalk", "sms"}
    assert not n.active  # nothing is sent by the sample until a channel is turned on
    assert all(c.url_env or c.url for c in n.channels)
    assert load_town(SAMPLE).department("natural-resources").notify == ["wecom-natural-resources"]


def test_the_section_is_optional(town_dir: Path) -> None:
    (town_dir / "notifications.yaml").unlink()
    _edit(town_dir / "departments.yaml", lambda deps: [d.pop("notify", None) for d in deps])
    n = load_town(town_dir).notifications
    assert n.channels == [] and not n.active


def _fails(town_dir: Path, change, file: str = "notifications.yaml") -> ConfigError:
    _edit(town_dir / file, change)
    with pytest.raises(ConfigError) as err:
        load_town(town_dir)
    assert err.value.file.endswith(file)
    assert "\n" not in str(err.value)
    return err.value


def test_a_plain_secret_is_refused(town_dir: Path) -> None:
    err = _fails(town_dir, lambda n: n["channels"][0].update(secret="hunter2"))
    assert err.key == "notifications.channels[0].secret" and err.reason == "unknown key"


def test_unknown_channel_type(town_dir: Path) -> None:
    err = _fails(town_dir, lambda n: n["channels"][0].update(type="pager"))
    assert err.key == "notifications.channels[0].type" and "webhook" in err.reason


def test_url_and_url_env_are_exclusive(town_dir: Path) -> None:
    err = _fails(town_dir, lambda n: n["channels"][1].update(url="http://x"))
    assert "exactly one of url and url_env" in err.reason


def test_route_to_an_unknown_channel(town_dir: Path) -> None:
    err = _fails(town_dir, lambda n: n["routes"]["new_order"].update(department=["nowhere"]))
    assert "routes.new_order.department: unknown channel 'nowhere'" in err.reason


def test_unknown_trigger_or_target(town_dir: Path) -> None:
    err = _fails(town_dir, lambda n: n["routes"].update(order_closed={"department": []}))
    assert err.key == "notifications.routes.order_closed" and err.reason == "unknown key"
    # a second mistake in the same file: both are reported, at once
    _edit(town_dir / "notifications.yaml", lambda n: n["routes"]["new_order"].update(mayor=[]))
    with pytest.raises(ConfigError) as both:
        load_town(town_dir)
    assert {p.key for p in both.value.problems} == {
        "notifications.routes.order_closed", "notifications.routes.new_order.mayor"}


def test_sms_placeholders_are_checked(town_dir: Path) -> None:
    err = _fails(town_dir, lambda n: n["channels"][3].update(body='{"to": "${mobile}"}'))
    assert "unknown placeholder ${mobile}" in err.reason


def test_department_channel_must_exist(town_dir: Path) -> None:
    err = _fails(town_dir, lambda deps: deps[1].update(notify=["ghost"]), file="departments.yaml")
    assert err.key == "departments[1](urban-management).notify[0]" and "unknown channel 'ghost'" in err.reason


def test_cli_one_line_error(town_dir: Path, capsys) -> None:
    from gridwatch.cli import main

    (town_dir / "notifications.yaml").write_text("channels: [{name: x, type: webhook}]\n", encoding="utf-8")
    assert main(["token", "create", "--role", "admin", "--config", str(town_dir), "--db", "sqlite://"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "notifications.yaml" in err and "url" in err
    assert "Traceback" not in err


def test_hub_refuses_to_start_without_a_channels_secret(town_dir: Path, capsys, monkeypatch) -> None:
    from gridwatch.cli import main

    _edit(town_dir / "notifications.yaml", lambda n: n["channels"][0].update(enabled=True))
    monkeypatch.delenv("GRIDWATCH_WEBHOOK_SECRET", raising=False)
    assert main(["hub", "--config", str(town_dir), "--db", "sqlite://", "--port", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert "notifications.channels[0](ops-webhook).secret_env" in err
    assert "GRIDWATCH_WEBHOOK_SECRET is not set" in err
