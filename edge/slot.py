"""The hand-over between a camera's reader thread and the analysis loop: one slot, newest wins.

A reader never waits for analysis: if the analysis loop has not taken the previous frame yet, the
old one is dropped (and counted). So a slow analysis pass delays nothing but itself, and memory per
camera is one frame.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self.dropped = 0

    def put(self, item: T) -> None:
        with self._lock:
            if self._item is not None:
                self.dropped += 1
            self._item = item

    def take(self) -> T | None:
        with self._lock:
            item, self._item = self._item, None
            return item
