"""A town whose notifications go to a local receiver, for the notification tests."""

from __future__ import annotations

from typing import Any

from gridwatch.config import Town
from gridwatch.config.notifications import NotificationSettings

SECRET = "s3cret-for-tests"
ENV = {"GW_TEST_SECRET": SECRET, "GW_TEST_DING_SECRET": "SEC-ding", "GW_TEST_SMS_KEY": "k-123"}


def settings(base: str, group_wait_s: float = 0.0, **extra: Any) -> NotificationSettings:
    """Four channels on one receiver (paths /ops, /wecom, /ding, /sms); the routes of the sample."""
    data: dict[str, Any] = {
        "console_url": "http://console.test",
        "channels": [
            {
                "name": "ops",
                "type": "webhook",
                "url": f"{base}/ops",
                "secret_env": "GW_TEST_SECRET",
                "group_wait_s": group_wait_s,
                "timeout_s": 5,
            },
            {
                "name": "wecom-nr",
                "type": "wecom",
                "url": f"{base}/wecom?key=abc",
                "group_wait_s": group_wait_s,
                "timeout_s": 5,
            },
            {
                "name": "ding-duty",
                "type": "dingtalk",
                "url": f"{base}/ding?access_token=t",
                "secret_env": "GW_TEST_DING_SECRET",
                "group_wait_s": group_wait_s,
                "timeout_s": 5,
            },
            {
                "name": "sms",
                "type": "sms",
                "url": f"{base}/sms",
                "secret_env": "GW_TEST_SMS_KEY",
                "headers": {"Authorization": "Bearer ${secret}"},
                "body": '{"to": "${phone}", "content": "${text}", "ref": "${delivery_id}"}',
                "group_wait_s": group_wait_s,
                "timeout_s": 5,
            },
        ],
        "routes": {
            "new_order": {"department": ["ops"], "grid_worker": ["ops", "sms"]},
            "deadline_missed": {"lead": ["ops"]},
            "camera_fault": {"maintenance": ["ops"]},
            "verification_due": {"grid_worker": ["ops", "sms"]},
        },
        "retry": {"first_s": 0.2, "max_s": 0.5, "max_attempts": 1000},
    }
    data.update(extra)
    return NotificationSettings.model_validate(data)


def notify_town(town: Town, notifications: NotificationSettings) -> Town:
    """The sample town with these notifications; the natural-resources desk and the duty lead have
    robots of their own, and the natural-resources desk a lead's phone."""
    own = {
        "natural-resources": {"notify": ["wecom-nr"], "lead_phone": "555-0900"},
        "duty-lead": {"notify": ["ding-duty"], "phone": "555-0999"},
    }
    deps = [d.model_copy(update=own.get(d.id, {})) for d in town.departments]
    return town.model_copy(update={"notifications": notifications, "departments": deps})
