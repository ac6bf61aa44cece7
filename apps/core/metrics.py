"""In-process counters (authentication outcomes, key fetches, overage tokens, ...).

Deliberately tiny: a thread-safe map of (name, labels) -> count that an exporter can read.
Counters are per process, as Prometheus expects of each gunicorn worker.
"""

from __future__ import annotations

import threading
from collections import Counter

_lock = threading.Lock()
_counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()


def increment(name: str, **labels: str) -> None:
    """Add one to the counter ``name`` with these labels."""
    key = (name, tuple(sorted(labels.items())))
    with _lock:
        _counts[key] += 1


def value(name: str, **labels: str) -> int:
    """The current count (0 when never incremented)."""
    with _lock:
        return _counts[(name, tuple(sorted(labels.items())))]


def snapshot() -> dict[tuple[str, tuple[tuple[str, str], ...]], int]:
    """A copy of every counter, for exporters and tests."""
    with _lock:
        return dict(_counts)
