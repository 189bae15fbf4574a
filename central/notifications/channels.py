"""Channels made ready to send: the URL and secret each names by environment variable, read once
when the hub starts (the program's edge). A variable that is not set stops the hub with one line,
rather than a channel that fails every delivery later."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gridwatch.config import ConfigError
from gridwatch.config.notifications import Channel, NotificationSettings


@dataclass(frozen=True, slots=True)
class ReadyChannel:
    config: Channel
    url: str
    secret: str | None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def type(self) -> str:
        return self.config.type

    def __repr__(self) -> str:  # never the secret or a URL that may carry a key
        return f"ReadyChannel({self.config.name!r}, {self.config.type!r})"


def ready_channels(settings: NotificationSettings, env: Mapping[str, str]) -> dict[str, ReadyChannel]:
    """The enabled channels with their URLs and secrets; :class:`ConfigError` for a missing variable."""
    out: dict[str, ReadyChannel] = {}
    for i, ch in enumerate(settings.channels):
        if not ch.enabled:
            continue
        key = f"notifications.channels[{i}]({ch.name})"
        url = ch.url if ch.url is not None else _env(env, ch.url_env or "", f"{key}.url_env")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                "notifications.yaml", f"{key}.url_env", f"${ch.url_env} must hold an http:// or https:// URL"
            )
        secret = _env(env, ch.secret_env, f"{key}.secret_env") if ch.secret_env else None
        out[ch.name] = ReadyChannel(ch, url, secret)
    return out


def _env(env: Mapping[str, str], name: str, key: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError("notifications.yaml", key, f"environment variable {name} is not set")
    return value
