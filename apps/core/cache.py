"""Django's Redis cache, made cheap per call and tolerant of a Redis outage.

Two changes to ``django.core.cache.backends.redis.RedisCache``:

- Django builds a ``redis.Redis`` client object around the connection pool on every call
  (``RedisCacheClient.get_client``), about 100 µs each; here one client per server is built
  once per process and shared by every thread (redis-py clients are thread-safe, and the
  pool re-creates its sockets after a fork).
- A connection error or timeout opens a short back-off (``OPTIONS["DOWN_SECONDS"]``) during
  which no call touches the network: reads miss, writes do nothing, so requests do not each
  wait for the socket timeout. One warning a minute is logged, not one per request, and
  the first call after the back-off tries Redis again.

``add`` and ``incr`` are the exception: their answer is a decision (a fleet-wide lock, a
counter), and either answer would be a lie, so they raise :class:`CacheUnavailable` at once
instead. ``apps.entra_auth.shared_cache`` turns that into "unknown", and the in-process
caches (signing keys, user map, RBAC snapshot) carry on alone.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from django.core.cache import caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from apps.core import metrics
from apps.core.throttle import Throttle

logger = logging.getLogger(__name__)
T = TypeVar("T")
_OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError)


class CacheUnavailable(Exception):
    """The shared cache is in an outage; raised by operations that cannot pretend."""


class SharedClientRedisCacheClient(RedisCacheClient):
    """Django's client with one ``redis.Redis`` per server, built once, not per call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}
        self._clients_lock = threading.Lock()

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(index)
                if client is None:
                    pool = self._get_connection_pool(write)  # builds the pool for `index`
                    client = self._clients[index] = self._client(connection_pool=pool)
        return client


class Outage:
    """Whether the shared cache is in back-off; one per location, shared by all threads."""

    def __init__(self, *, down_seconds: float) -> None:
        self.down_seconds = down_seconds
        self._until = 0.0
        self._warning = Throttle(60.0)

    def active(self) -> bool:
        return time.monotonic() < self._until

    def begin(self, exc: Exception) -> None:
        self._until = time.monotonic() + self.down_seconds
        metrics.increment("portico_cache_errors_total")
        if self._warning.ready():
            logger.warning(
                "Shared cache (Redis) unavailable, serving from process memory and retrying "
                "every %.0f s: %s",
                self.down_seconds,
                exc,
            )


# Keyed by location and options: one client and one outage state per process for each.
_clients: dict[tuple[str, ...], SharedClientRedisCacheClient] = {}
_outages: dict[tuple[str, ...], Outage] = {}
_registry_lock = threading.Lock()


class DegradingRedisCache(RedisCache):
    """``RedisCache`` with a per-process client and misses instead of errors in an outage.

    Django builds one cache object per thread; the client and the outage state are keyed by
    location and options, so every thread of a process shares them.
    """

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS", {}))
        location = (*(server if isinstance(server, list) else [server]), repr(options))
        down = float(options.pop("DOWN_SECONDS", 5.0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = SharedClientRedisCacheClient
        with _registry_lock:
            self._outage = _outages.setdefault(location, Outage(down_seconds=down))
            if location not in _clients:
                _clients[location] = self._class(self._servers, **self._options)
        # RedisCache._cache is a cached_property: this process's client takes its place.
        self.__dict__["_cache"] = _clients[location]

    def redis_client(self) -> Any:
        """This process's ``redis.Redis`` for the primary server, for what the cache API lacks
        (pub/sub: ``apps/rbac/version_watch.py``); calls on it bypass the outage back-off."""
        return self._cache.get_client(write=True)

    def _guard(self, call: Callable[[], T], fallback: T) -> T:
        """``call()``, or ``fallback`` during an outage (which an error starts)."""
        if self._outage.active():
            return fallback
        try:
            return call()
        except _OUTAGE_ERRORS as exc:
            self._outage.begin(exc)
            return fallback

    def _decide(self, call: Callable[[], T]) -> T:
        """``call()``, or :class:`CacheUnavailable` at once during an outage."""
        if self._outage.active():
            raise CacheUnavailable("shared cache in back-off after an error")
        try:
            return call()
        except _OUTAGE_ERRORS as exc:
            self._outage.begin(exc)
            raise CacheUnavailable(str(exc)) from exc

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._guard(partial(super().get, key, default, version), default)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._guard(partial(super().get_many, keys, version), {})

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._guard(partial(super().has_key, key, version), False)

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._guard(partial(super().set, key, value, timeout, version), None)

    def set_many(self, data: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> list:
        # Django's contract: the keys that were not stored.
        return self._guard(partial(super().set_many, data, timeout, version), list(data))

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._guard(partial(super().touch, key, timeout, version), False)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._guard(partial(super().delete, key, version), False)

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._guard(partial(super().delete_many, keys, version), None)

    def clear(self) -> bool:
        return self._guard(super().clear, False)

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        return self._decide(partial(super().add, key, value, timeout, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._decide(partial(super().incr, key, delta, version))

    def get_or_set(
        self, key: Any, default: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> Any:
        """Django's ``get_or_set``, answering the default when ``add`` cannot decide."""
        value = self.get(key, self._missing_key, version=version)
        if value is not self._missing_key:
            return value
        value = default() if callable(default) else default
        try:
            self.add(key, value, timeout, version=version)
        except CacheUnavailable:
            return value
        return self.get(key, value, version=version)  # another process may have won the add


def redis_cache() -> DegradingRedisCache | None:
    """The default cache when it is Redis, else ``None`` (locmem: nothing shared to reach)."""
    default = caches["default"]
    return default if isinstance(default, DegradingRedisCache) else None
