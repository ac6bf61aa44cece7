"""Per-call cost of Django's RedisCache against Portico's DegradingRedisCache.

Django builds a ``redis.Redis`` client per cache call; Portico reuses one per process
(``apps/core/cache.py``). Both run the same ``get`` of a present key against a real Redis:

    REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/python -m benchmarks.cache_client

Prints µs per call for each backend (best of 5 rounds, so other load on the machine shows
up as noise rather than as a difference).
"""

from __future__ import annotations

import os
import time

import django
from django.conf import settings


def _per_call_us(cache: object, calls: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            cache.get("bench:key")  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def main() -> None:
    location = os.environ["REDIS_URL"]
    backends = {
        "django": "django.core.cache.backends.redis.RedisCache",
        "portico": "apps.core.cache.DegradingRedisCache",
    }
    settings.configure(
        CACHES={
            name: {"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": f"bench-{name}"}
            for name, backend in backends.items()
        }
    )
    django.setup()
    from django.core.cache import caches

    calls = int(os.environ.get("CALLS", "5000"))
    results = {}
    for name in backends:
        caches[name].set("bench:key", "value", 60)
        _per_call_us(caches[name], 200)  # warm up: pools, connections
        results[name] = _per_call_us(caches[name], calls)
        print(f"{name:8s} {results[name]:7.1f} µs per get")
    print(f"saved    {results['django'] - results['portico']:7.1f} µs per call")


if __name__ == "__main__":
    main()
