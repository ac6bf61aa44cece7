"""A once-per-interval gate, so that a condition hit by every request is logged once a minute."""

from __future__ import annotations

import threading
import time


class Throttle:
    """``ready()`` answers True at most once every ``seconds`` (per process)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last = float("-inf")
        self._lock = threading.Lock()

    def ready(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.seconds:
                return False
            self._last = now
            return True
