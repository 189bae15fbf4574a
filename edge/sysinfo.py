"""The node's own health for heartbeats: CPU, memory, free disk where the outbox lives, version."""

from __future__ import annotations

from pathlib import Path

import psutil

from edge.outbox import OutboxStats
from gridwatch import __version__
from gridwatch.wire import NodeHealth


class NodeProbe:
    """psutil figures; ``cpu_percent`` is measured between calls, so keep one probe per worker."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        psutil.cpu_percent(interval=None)  # the first reading is meaningless; start the interval now

    def health(self, outbox: OutboxStats) -> NodeHealth:
        return NodeHealth(
            cpu_percent=psutil.cpu_percent(interval=None) * (psutil.cpu_count() or 1),
            memory_percent=psutil.virtual_memory().percent,
            disk_free_bytes=psutil.disk_usage(str(self.data_dir)).free,
            outbox_depth=outbox.depth,
            outbox_bytes=outbox.bytes,
            outbox_dropped=outbox.dropped,
            outbox_disk_full=outbox.disk_full,
            software_version=f"gridwatch {__version__}",
        )
