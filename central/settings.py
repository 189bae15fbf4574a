"""Run-time settings of one hub process, decided once at the program's edge and passed in.

The town config says how the town works (routing, deadlines, hub.* policy); this says where this
process keeps its data and how often its background checks run, which differs per deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gridwatch.wire import MAX_BODY_BYTES

DEFAULT_DB_URL = "sqlite:///var/gridwatch.db"


@dataclass(frozen=True, slots=True)
class HubConfig:
    """Where the hub stores things and how its watchers and feed behave."""

    db_url: str = DEFAULT_DB_URL
    media_dir: Path = Path("var/media")
    #: Largest request body read at all (413 above it).
    max_body_bytes: int = MAX_BODY_BYTES
    #: Seconds between deadline and heartbeat sweeps; 0 turns the background watchers off (tests
    #: then call ``run_once`` themselves with their own clock).
    watch_interval_s: float = 5.0
    #: Seconds the feed tail waits between looks at the event table when nothing woke it.
    feed_poll_s: float = 0.5
    #: On PostgreSQL, wake the feed tail (central.feed_tail) by LISTEN/NOTIFY as soon as an event commits.
    feed_listen: bool = True
    #: Seconds between keep-alive comments on an idle feed.
    feed_keepalive_s: float = 15.0
    #: Run ``alembic upgrade head`` when the app starts.
    migrate_on_start: bool = True
    #: Largest alert age accepted (an outbox may deliver late after an outage), and future skew.
    max_alert_age_s: float = 30 * 86400.0
    max_clock_skew_s: float = 300.0
    #: Timeout for relaying a live-view offer to an edge node.
    live_relay_timeout_s: float = 10.0
    #: Longest sleep of the notifier between looks at the feed and the queue (it also wakes on this
    #: process's feed commits and when a message falls due); 0 turns it off (tests call ``run_once``).
    notify_poll_s: float = 1.0


def default_media_dir(db_url: str) -> Path:
    """Media next to a SQLite file, else var/media."""
    if db_url.startswith("sqlite:///") and db_url != "sqlite:///:memory:":
        return Path(db_url.removeprefix("sqlite:///")).parent / "media"
    return Path("var/media")
