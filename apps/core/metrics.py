"""In-process counters (authentication outcomes, key fetches, overage tokens, ...).

Deliberately tiny: a thread-safe map of (name, labels) -> count, rendered in Prometheus'
text format for ``/api/metrics``. Counters are per process: with several gunicorn workers,
each scrape is answered by one worker and shows that worker's counts since it started
(``portico_process_start_time_seconds`` and the ``pid`` in ``portico_process_info`` say
which); docs/operations.md explains how to read them.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter

_lock = threading.Lock()
_counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
_started = time.time()

# What each counter means, for the HELP lines; every name Portico increments is listed.
HELP = {
    "portico_http_requests_total": "Requests answered, by status class.",
    "portico_auth_total": "Bearer authentication outcomes, by outcome and reason.",
    "portico_keys_fetches_total": "Signing key (discovery + JWKS) fetches, by result.",
    "portico_user_cache_total": "User map lookups ((tid, oid) -> user), by where they were found.",
    "portico_groups_overage_total": "Tokens whose groups did not fit (groups overage).",
    "portico_graph_groups_failures_total": "Failed group look-ups in Microsoft Graph.",
    "portico_cache_errors_total": "Shared cache (Redis) errors that started a back-off.",
}
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"


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


def render() -> str:
    """Every counter in Prometheus' text exposition format (version 0.0.4)."""
    by_name: dict[str, list[str]] = {}
    for (name, labels), count in sorted(snapshot().items()):
        by_name.setdefault(name, []).append(f"{name}{_labels(labels)} {count}")
    lines = [
        "# HELP portico_process_info The process answering this scrape (counters are per process).",
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
