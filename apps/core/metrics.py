"""Counters (authentication outcomes, key fetches, overage tokens, ...), counted in memory.

Deliberately tiny: a thread-safe map of (name, labels) -> count, rendered in Prometheus'
text format for ``/api/metrics``. ``increment`` never leaves the process and costs what it
did: the part of each count not yet sent to Redis (its pending delta) is worked out only when
``apps.core.metrics_flush`` sends the deltas, every ``PORTICO_METRICS_FLUSH_SECONDS`` from a
daemon thread, so that a scrape can show the whole fleet's totals (docs/operations.md). The
thread starts with the first increment in each process, and again in a forked child, which
leaves the deltas of its parent to the parent.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Mapping

Key = tuple[str, tuple[tuple[str, str], ...]]

# What each counter means, for the HELP lines; every name Portico increments is listed.
HELP = {
    "portico_http_requests_total": "Requests answered, by status class.",
    "portico_auth_total": "Bearer authentication outcomes, by outcome and reason.",
    "portico_keys_fetches_total": "Signing key (discovery + JWKS) fetches, by result.",
    "portico_user_cache_total": "User map lookups ((tid, oid) -> user), by where they were found.",
    "portico_groups_overage_total": "Tokens whose groups did not fit (groups overage).",
    "portico_graph_groups_failures_total": "Failed group look-ups in Microsoft Graph.",
    "portico_cache_errors_total": "Shared cache (Redis) errors that started a back-off.",
    "portico_metrics_flush_failures_total": "Failed sends or reads of the fleet counters in Redis.",
}
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
FLEET = "fleet"
PROCESS = "process"
_SCOPE_HELP = {
    FLEET: "every process of every task, summed in Redis",
    PROCESS: "this process only",
}


class Registry:
    """Counts and pending deltas of one process; a second instance stands for another process
    in tests. ``settle`` is the only way deltas leave ``pending``: after Redis took them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[Key] = Counter()
        self._sent: Counter[Key] = Counter()  # the part of each count Redis has taken
        self.flush_lock = threading.Lock()  # one flush at a time: a delta is sent once
        self.in_flight: tuple[str, dict[Key, int]] | None = None  # (batch id, deltas) unsent
        self.flusher_pid = 0  # the process whose flusher thread runs; 0: none yet

    def increment(self, name: str, **labels: str) -> None:
        """Add one to the counter ``name`` with these labels (memory only, no I/O)."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self._counts[key] += 1
        if not self.flusher_pid:
            _start_flusher(self)

    def value(self, name: str, **labels: str) -> int:
        """This process's count (0 when never incremented)."""
        with self._lock:
            return self._counts[(name, tuple(sorted(labels.items())))]

    def snapshot(self) -> dict[Key, int]:
        """A copy of every counter of this process, for exporters and tests."""
        with self._lock:
            return dict(self._counts)

    def pending(self) -> dict[Key, int]:
        """The deltas not yet sent to Redis (computed here, off the request path)."""
        with self._lock:
            sent = self._sent
            return {key: n - sent[key] for key, n in self._counts.items() if n != sent[key]}

    def settle(self, sent: Mapping[Key, int]) -> None:
        """Mark deltas Redis has taken as sent; what was counted meanwhile stays pending."""
        with self._lock:
            self._sent.update(sent)

    def after_fork_in_child(self) -> None:
        """A forked child counts on alone: fresh locks, no flusher, none of the parent's
        pending deltas (the parent sends those; sending them here too would count them twice)."""
        self._lock = threading.Lock()
        self.flush_lock = threading.Lock()
        self._sent = Counter(self._counts)
        self.in_flight = None
        self.flusher_pid = 0


def _start_flusher(registry: Registry) -> None:
    from apps.core import metrics_flush  # imports Django's cache, which imports this module

    metrics_flush.start(registry)


REGISTRY = Registry()
increment = REGISTRY.increment
value = REGISTRY.value
snapshot = REGISTRY.snapshot
os.register_at_fork(after_in_child=REGISTRY.after_fork_in_child)
_started = time.time()


def render(counts: Mapping[Key, int] | None = None, *, scope: str = PROCESS) -> str:
    """Counters in Prometheus' text exposition format (version 0.0.4): ``counts`` (the fleet's
    totals) or, by default, this process's; ``scope`` says which, in ``portico_metrics_scope``."""
    by_name: dict[str, list[str]] = {}
    for (name, labels), count in sorted((snapshot() if counts is None else counts).items()):
        by_name.setdefault(name, []).append(f"{name}{_labels(labels)} {count}")
    lines = [
        f"# HELP portico_metrics_scope Whose counts follow: {_SCOPE_HELP[scope]}.",
        "# TYPE portico_metrics_scope gauge",
        f'portico_metrics_scope{{scope="{scope}"}} 1',
        "# HELP portico_process_info The process answering this scrape.",
        "# TYPE portico_process_info gauge",
        f'portico_process_info{{pid="{os.getpid()}"}} 1',
        "# HELP portico_process_start_time_seconds When this process started (Unix time).",
        "# TYPE portico_process_start_time_seconds gauge",
        f"portico_process_start_time_seconds {_started:.3f}",
    ]
    for name, samples in by_name.items():
        lines.append(f"# HELP {name} {HELP.get(name, name)}")
        lines.append(f"# TYPE {name} counter")
        lines.extend(samples)
    return "\n".join(lines) + "\n"


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels) + "}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
