"""The town's ``notifications.yaml``: outbound channels and who is told of what.

Only names of environment variables appear here, never a secret itself: a robot's URL carries its
key, a webhook its signing secret, an SMS gateway its API key. The hub reads the variables when it
starts (:mod:`central.notifications.channels`).
"""

from __future__ import annotations

from string import Template
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ChannelType = Literal["webhook", "wecom", "dingtalk", "sms"]
#: Placeholders an SMS template may use (``${name}``).
SMS_PLACEHOLDERS = frozenset({"phone", "text", "delivery_id", "recipient_id", "recipient_name", "secret"})
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
CHANNEL_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Retry(_Strict):
    first_s: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="Seconds before the first retry of a failed delivery; "
        "doubled after each further failure.",
    )
    max_s: float = Field(default=600.0, gt=0, description="Longest wait between two attempts.")
    max_attempts: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="Attempts before a message is given up as failed (listed "
        "for admins at GET /api/v1/notifications?state=failed).",
    )


class Channel(_Strict):
    name: str = Field(pattern=CHANNEL_NAME, description="Name routes and departments refer to.")
    type: ChannelType = Field(
        description="webhook: JSON POST signed with HMAC-SHA256; wecom / dingtalk: the group robot's "
        "markdown message; sms: an SMS gateway called through an HTTP template."
    )
    enabled: bool = Field(default=True, description="False: configured, but nothing is sent to it.")
    url: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="Where to send (http:// or https://). For sms it may hold ${phone}, ${text}, ... "
        "(URL-encoded). Give url or url_env.",
    )
    url_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="Name of the environment variable holding the URL instead (a WeCom or DingTalk "
        "robot's URL carries its access key).",
    )
    secret_env: str | None = Field(
        default=None,
        pattern=ENV_NAME,
        description="Name of the environment variable holding the secret: webhook: HMAC key of the "
        "X-Gridwatch-Signature header; dingtalk: the robot's signing secret (adds timestamp and sign "
        "to the URL); sms: the value of ${secret} in the template. Unset variable: the hub refuses to "
        "start.",
    )
    group_wait_s: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="Notices to one recipient within this many seconds of the first go out as one "
        "message with a list (like Alertmanager's group_wait); 0 sends each at once.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Seconds to wait for the receiver.")
    method: Literal["POST", "PUT", "GET"] = Field(
        default="POST", description="sms only: the HTTP method of the gateway call."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="sms only: extra request headers; values may use ${secret}."
    )
    body: str | None = Field(
        default=None,
        max_length=10000,
        description="sms only: the request body template with ${phone}, ${text}, ${delivery_id}, "
        "${recipient_id}, ${recipient_name}, ${secret}; values are escaped for body_encoding.",
    )
    body_encoding: Literal["json", "form", "text"] = Field(
        default="json",
        description="sms only: json (values escaped as JSON string content, Content-Type "
        "application/json), form (URL-encoded, application/x-www-form-urlencoded) or text.",
    )

    @model_validator(mode="after")
    def _check(self) -> Channel:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        if self.type != "sms":
            if self.body is not None or self.headers or self.method != "POST":
                raise ValueError("method, headers and body are for sms channels only")
        else:
            if self.body is None and self.method != "GET":
                raise ValueError(f"an sms channel with method {self.method} needs a body template")
            for where, text in (
                ("url", self.url or ""),
                ("body", self.body or ""),
                *((f"headers.{k}", v) for k, v in self.headers.items()),
            ):
                check_template(text, where)
        return self


def check_template(text: str, where: str) -> None:
    """Refuse a template with a placeholder we do not fill, or a stray ``$``."""
    tpl = Template(text)
    if not tpl.is_valid():
        raise ValueError(f"{where}: invalid template (write $$ for a literal $)")
    unknown = sorted(set(tpl.get_identifiers()) - SMS_PLACEHOLDERS)
    if unknown:
        raise ValueError(
            f"{where}: unknown placeholder ${{{unknown[0]}}} (known: {', '.join(sorted(SMS_PLACEHOLDERS))})"
        )


class Targets(_Strict):
    """Who hears of one kind of event. A target left out is not told; a target listed gets the
    channels given here plus its own (a department's ``notify`` channels in departments.yaml)."""

    department: list[str] | None = Field(
        default=None, description="The order's department: channels besides the department's own."
    )
    grid_worker: list[str] | None = Field(
        default=None,
        description="The grid worker of the order (its assignee, else its grid's worker); "
        "an sms channel texts the worker's phone from grids.yaml.",
    )
    lead: list[str] | None = Field(
        default=None,
        description="The lead: for a supervision notice the one its level names (the "
        "order's department's lead or the duty lead, kind: lead), else the duty lead.",
    )
    maintenance: list[str] | None = Field(
        default=None, description="The camera-maintenance departments (kind: maintenance)."
    )


class Routes(_Strict):
    new_order: Targets = Field(
        default_factory=lambda: Targets(department=[], grid_worker=[]),
        description="A new work order (feed event work_order.created).",
    )
    deadline_missed: Targets = Field(
        default_factory=lambda: Targets(lead=[]),
        description="A missed deadline (work_order.supervised, and the duty-lead escalation "
        "work_order.escalated).",
    )
    camera_fault: Targets = Field(
        default_factory=lambda: Targets(maintenance=[]),
        description="A camera going offline or degraded (camera.status to a fault).",
    )
    verification_due: Targets = Field(
        default_factory=lambda: Targets(grid_worker=[]),
        description="A department fed back on an order: the grid worker verifies on site "
        "(work_order.updated with action feedback).",
    )


class NotificationSettings(_Strict):
    """Outbound notifications: channels, routes, retries. No enabled channel: nothing runs."""

    console_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://",
        description="Base URL of the dispatch console as recipients reach it; messages link to "
        "<console_url>/#/orders/<id>.",
    )
    channels: list[Channel] = Field(default_factory=list, description="Where messages can go.")
    routes: Routes = Field(default_factory=Routes, description="Which events notify whom.")
    retry: Retry = Field(default_factory=Retry, description="Backoff and give-up policy of deliveries.")
    max_event_age_s: float = Field(
        default=3600.0,
        gt=0,
        description="Feed events older than this when the notifier reaches them are passed over (a "
        "notifier turned on after months off does not send months of old news).",
    )
    lease_s: float = Field(
        default=15.0,
        ge=1,
        le=600,
        description="Seconds one hub process holds the sending role without renewing it; if it dies, "
        "another hub process takes over after at most this long.",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> NotificationSettings:
        seen: set[str] = set()
        for ch in self.channels:
            if ch.name in seen:
                raise ValueError(f"two channels named {ch.name!r}")
            seen.add(ch.name)
        for trigger, targets in self.routes:
            for target, names in targets:
                for name in names or ():
                    if name not in seen:
                        raise ValueError(f"routes.{trigger}.{target}: unknown channel {name!r}")
        return self

    def channel(self, name: str) -> Channel | None:
        return next((c for c in self.channels if c.name == name), None)

    @property
    def active(self) -> bool:
        """Whether anything can be sent at all (the notifier runs only then)."""
        return any(c.enabled for c in self.channels)
