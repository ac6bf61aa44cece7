"""Fleet-wide counters: each process sends its counter deltas to one Redis hash.

``increment`` stays in memory (``apps.core.metrics``); a daemon thread per process sends the
pending deltas every ``PORTICO_METRICS_FLUSH_SECONDS``, and a scrape sends its own process's
first, then answers the hash's totals: the sum over every worker of every task, whichever
worker the load balancer picked. Without a Redis cache (locmem) nothing is sent and scrapes
show the answering process, as do scrapes while Redis is down (``scope="process"``).

Exactly once: a batch of deltas gets an id and goes to Redis as one script that applies its
HINCRBYs (one per changed counter) only if that id is new; the deltas leave ``pending`` only
after Redis answered. A failed send keeps the batch, and the retry carries the same id, so a
batch that Redis applied but whose answer was lost (a timeout) is not counted twice.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import uuid
from typing import Any

from redis.exceptions import RedisError

from apps.core import metrics
from apps.core.cache import redis_cache as shared_cache
from apps.core.conf import portico_settings
from apps.core.throttle import Throttle

logger = logging.getLogger(__name__)
HASH_KEY = "metrics:counters"
BATCH_KEY = "metrics:batch"
BATCH_ID_SECONDS = 3600  # how long Redis remembers a batch id, for retries (one key each)
# KEYS: the hash, the batch id's key; ARGV: its lifetime, then field, delta, field, delta...
_APPLY_ONCE = """
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then
  for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
  return 1
end
return 0
"""
_start_lock = threading.Lock()
_warning = Throttle(60.0)


class FleetUnavailable(Exception):
    """Redis did not take the deltas or give the totals; the caller keeps to this process."""


def flush(registry: metrics.Registry, cache: Any) -> None:
    """Send ``registry``'s pending deltas; on failure raise :class:`FleetUnavailable` and keep
    them (with their batch id) for the next call."""
    with registry.flush_lock:
        batch_id, deltas = registry.in_flight or (uuid.uuid4().hex, registry.pending())
        if not deltas:
            return
        registry.in_flight = (batch_id, deltas)
        args: list[Any] = [BATCH_ID_SECONDS]
        for key, delta in deltas.items():
            args += [_field(key), delta]
        keys = [cache.make_key(HASH_KEY), cache.make_key(f"{BATCH_KEY}:{batch_id}")]
        try:
            cache.redis_client().eval(_APPLY_ONCE, 2, *keys, *args)
        except RedisError as exc:
            raise FleetUnavailable(f"counter deltas not sent to Redis: {exc}") from exc
        registry.settle(deltas)
        registry.in_flight = None


def fleet_totals(cache: Any) -> dict[metrics.Key, int]:
    """Every counter's fleet-wide total, from the hash."""
    try:
        raw = cache.redis_client().hgetall(cache.make_key(HASH_KEY))
    except RedisError as exc:
        raise FleetUnavailable(f"fleet totals not read from Redis: {exc}") from exc
    return {_key(field): int(total) for field, total in raw.items()}


def exposition(registry: metrics.Registry = metrics.REGISTRY) -> tuple[str, str]:
    """The body for ``/api/metrics`` and its scope: the fleet's totals when Redis answers,
    else this process's counters (never an error: a scrape must not fail with Redis)."""
    cache = shared_cache()
    if cache is not None:
        try:
            flush(registry, cache)
            return metrics.render(fleet_totals(cache), scope=metrics.FLEET), metrics.FLEET
        except FleetUnavailable as exc:
            _warn(exc)
    return metrics.render(registry.snapshot(), scope=metrics.PROCESS), metrics.PROCESS


def start(registry: metrics.Registry) -> None:
    """Start ``registry``'s flusher thread in this process, once (again after a fork)."""
    with _start_lock:
        pid = os.getpid()
        if registry.flusher_pid == pid:
            return
        registry.flusher_pid = pid
        thread = threading.Thread(
            target=_run, args=(registry,), name="portico-metrics-flush", daemon=True
        )
        thread.start()
        atexit.register(_flush_quietly, registry)  # a worker that exits sends its last deltas


def _run(registry: metrics.Registry) -> None:
    while True:
        time.sleep(max(1, portico_settings().metrics_flush_seconds))  # 0: a busy loop
        try:
            _flush_quietly(registry)
        except Exception:  # the thread must outlive any one failure; the deltas are kept
            logger.exception("Sending counter deltas failed unexpectedly")


def _flush_quietly(registry: metrics.Registry) -> None:
    cache = shared_cache()
    if cache is None:
        return
    try:
        flush(registry, cache)
    except FleetUnavailable as exc:
        _warn(exc)


def _warn(exc: FleetUnavailable) -> None:
    metrics.increment("portico_metrics_flush_failures_total")
    if _warning.ready():
        logger.warning("Metrics are per process until Redis answers again: %s", exc)


def _field(key: metrics.Key) -> str:
    name, labels = key
    return json.dumps([name, labels], separators=(",", ":"))


def _key(field: bytes | str) -> metrics.Key:
    name, labels = json.loads(field)
    return name, tuple((str(k), str(v)) for k, v in labels)
