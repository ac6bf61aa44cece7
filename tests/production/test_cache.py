"""apps/core/cache.py: one Redis client per process, and misses instead of errors in an outage."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches

from apps.core import metrics
from apps.core.cache import CacheUnavailable
from tests.production.conftest import redis_cache_settings


@pytest.fixture
def redis_cache(settings, redis_server):
    settings.CACHES = redis_cache_settings(redis_server.url, down_seconds=0.5)
    cache = caches["default"]
    cache.clear()
    return cache


@pytest.fixture
def dead_cache(settings, unused_port):
    """The cache pointed at a port nothing listens on: every connection is refused."""
    settings.CACHES = redis_cache_settings(f"redis://127.0.0.1:{unused_port}/0", down_seconds=60)
    return caches["default"]


def test_every_call_and_every_thread_share_one_redis_client(redis_cache):
    first = redis_cache._cache.get_client(write=True)
    with ThreadPoolExecutor(4) as pool:
        from_threads = set(pool.map(lambda _: id(caches["default"]._cache.get_client()), range(8)))
    assert redis_cache._cache.get_client() is first
    assert from_threads == {id(first)}


def test_values_round_trip_through_redis(redis_cache):
    redis_cache.set("k", {"v": 1}, 30)
    assert redis_cache.get("k") == {"v": 1}
    assert redis_cache.add("k", "other", 30) is False
    assert redis_cache.get_or_set("g", lambda: "computed", 30) == "computed"
    assert redis_cache.get_many(["k", "g", "missing"]) == {"k": {"v": 1}, "g": "computed"}


def test_an_outage_reads_as_a_miss_and_writes_as_nothing(dead_cache):
    assert dead_cache.get("k", "default") == "default"
    dead_cache.set("k", "v", 30)
    assert dead_cache.get_many(["a", "b"]) == {}
    assert dead_cache.set_many({"a": 1, "b": 2}) == ["a", "b"]
    assert dead_cache.delete("k") is False
    assert dead_cache.has_key("k") is False
    assert dead_cache.get_or_set("k", lambda: "computed", 30) == "computed"


def test_add_and_incr_refuse_to_guess_during_an_outage(dead_cache):
    """A lock or counter answer would be a lie either way: the shared-cache wrapper maps the
    exception to "unknown" (apps.entra_auth.shared_cache)."""
    with pytest.raises(CacheUnavailable):
        dead_cache.add("gate", 1, 30)
    with pytest.raises(CacheUnavailable):
        dead_cache.incr("counter")


def test_the_tolerant_wrapper_reads_an_outage_add_as_unknown(dead_cache):
    from apps.entra_auth.shared_cache import TolerantCache

    assert TolerantCache().add("gate", 1, 30) is None


def test_after_one_error_calls_skip_redis_for_the_back_off(dead_cache, monkeypatch):
    dead_cache.get("k")  # the error that starts the back-off
    client = dead_cache._cache

    def must_not_run(*args, **kwargs):
        raise AssertionError("Redis was called during the back-off")

    monkeypatch.setattr(client, "get", must_not_run)
    monkeypatch.setattr(client, "set", must_not_run)
    started = time.perf_counter()
    for _ in range(100):
        assert dead_cache.get("k") is None
        dead_cache.set("k", "v", 30)
    assert time.perf_counter() - started < 0.5


def test_an_outage_warns_once_not_per_call(dead_cache, caplog, monkeypatch):
    from apps.core import cache as cache_module

    monkeypatch.setattr(cache_module.Outage, "active", lambda self: False)  # hit Redis each time
    errors_before = metrics.value("portico_cache_errors_total")
    with caplog.at_level(logging.WARNING, logger="apps.core.cache"):
        for _ in range(20):
            dead_cache.get("k")
    warnings = [r for r in caplog.records if r.name == "apps.core.cache"]
    assert len(warnings) == 1  # each location has its own outage state, hence warning
    assert metrics.value("portico_cache_errors_total") - errors_before == 20


def test_the_cache_recovers_by_itself_when_redis_comes_back(settings, redis_server):
    settings.CACHES = redis_cache_settings(redis_server.url, down_seconds=0.3)
    cache = caches["default"]
    cache.set("k", "before", 30)
    redis_server.kill()
    assert cache.get("k", "miss") == "miss"
    redis_server.start()  # same port, empty (no persistence)
    cache.set("k", "during back-off", 30)  # skipped: still backing off
    time.sleep(0.35)
    cache.set("k", "after", 30)
    assert cache.get("k") == "after"


def test_a_hung_redis_costs_one_socket_timeout_then_nothing(settings):
    """A server that accepts and never answers: the first call waits socket_timeout, the
    back-off spares every later one."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    try:
        settings.CACHES = redis_cache_settings(f"redis://127.0.0.1:{port}/0", down_seconds=60)
        cache = caches["default"]
        started = time.perf_counter()
        assert cache.get("k") is None
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(10):
            assert cache.get("k") is None
        later = time.perf_counter() - started
    finally:
        listener.close()
    assert first < 1.0  # socket_timeout is 0.5 s, and redis-py does not retry
    assert later < 0.5  # ten calls that each waited would take 5 s
