"""Capped exponential backoff with jitter, shared by stream reconnects and hub delivery.

Jitter spreads the retries of many cameras (or many nodes) that failed at the same moment, so a
recovering camera server or hub is not hit by all of them in the same instant.
"""

from __future__ import annotations

import random


class Backoff:
    """``next()`` gives the delay before the next try: base * 2^n capped at ``cap``, times 0.5..1."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        raw = min(self.cap, self.base * (2 ** min(self.failures, 30)))
        self.failures += 1
        return raw * self._rng.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0
