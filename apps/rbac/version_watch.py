"""Each process's copy of the RBAC mapping version, kept current by Redis pub/sub.

Why: reading the version from Redis on every authenticated request cost about 160 µs under
load, the largest single cost of ``/api/me`` (docs/performance.md). Instead, one daemon
thread per process subscribes to a channel on which ``bump_version()`` publishes each new
version, and the request path reads the thread's copy: no network call.

The thread subscribes first, then reads the version (through Django's cache, as the request
path would), so a bump published between the two is not missed; only then is it *healthy*.
It re-reads the version and pings its connection every ``RESYNC_SECONDS``: a lost message or
a silent connection is caught within that time. Whenever the connection drops, redis-py
reconnects and subscribes again, and the thread is unhealthy until that subscription is
confirmed and the version read again. On any error it is unhealthy, backs off and starts
over. While it is unhealthy (or without Redis: the in-process cache) ``version()`` answers
``None`` and the caller reads the shared cache itself, with its degraded-mode rules.

A watcher belongs to the process that started it: gunicorn forks its workers after the
import, so a forked child starts its own on first use (threads do not survive a fork).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.core.cache import redis_cache
from apps.core.throttle import Throttle

logger = logging.getLogger(__name__)

RESYNC_SECONDS = 5.0
RETRY_SECONDS = (0.5, 10.0)  # back-off after an error: first wait, doubled up to the last
WAIT_SECONDS = 1.0  # longest wait for a message, so a stop is noticed
PING = "rbac-version-watch"
_watches: list[ProcessWatch] = []


class WatchError(Exception):
    """The watcher cannot vouch for its version (no answer to a read or a ping)."""


class VersionWatch:
    """A daemon thread that follows the version published on ``channel``.

    ``read`` answers the version stored in the shared cache (``None`` when it cannot);
    ``client`` is a ``redis.Redis`` for the server that cache uses.
    """

    def __init__(
        self,
        *,
        client: Any,
        channel: str,
        read: Callable[[], str | None],
        resync_seconds: float = RESYNC_SECONDS,
        retry_seconds: tuple[float, float] = RETRY_SECONDS,
    ) -> None:
        self._client = client
        self._channel = channel
        self._read = read
        self._resync_seconds = resync_seconds
        self._retry_seconds = retry_seconds
        self._version: str | None = None
        self._awaiting_pong = False
        self._synced = False
        self._stopped = threading.Event()
        self._warning = Throttle(60.0)
        self._thread = threading.Thread(target=self._run, name="rbac-version-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Unhealthy at once; the thread ends within ``WAIT_SECONDS`` (tests, settings change)."""
        self._stopped.set()
        self._version = None

    def version(self) -> str | None:
        """The current version, or ``None`` while the watcher cannot vouch for it."""
        return self._version

    def _run(self) -> None:
        delay = self._retry_seconds[0]
        while not self._stopped.is_set():
            self._synced = False
            try:
                self._follow()  # returns only once stopped
            except Exception as exc:  # whatever broke, the request path must not trust us
                self._version = None
                if self._synced:  # it had got going: a new failure, not the same outage
                    delay = self._retry_seconds[0]
                if self._warning.ready():
                    logger.warning(
                        "RBAC version watch lost Redis, requests read the version "
                        "themselves; retrying in %.1f s: %s",
                        delay,
                        exc,
                    )
                self._stopped.wait(delay)
                delay = min(delay * 2, self._retry_seconds[1])

    def _follow(self) -> None:
        """Subscribe, then apply every message until stopped; raises on any failure."""
        pubsub = self._client.pubsub()
        connection = None
        try:
            pubsub.subscribe(self._channel)
            connection = pubsub.connection
            # Runs on every reconnection redis-py makes by itself: messages may have been lost,
            # so unhealthy until the new subscription is confirmed and the version re-read.
            connection.register_connect_callback(self._on_reconnect)
            self._awaiting_pong = False
            next_check = time.monotonic() + self._resync_seconds
            while not self._stopped.is_set():
                message = pubsub.get_message(timeout=WAIT_SECONDS)
                if message is not None:
                    self._apply(message)
                if time.monotonic() >= next_check:
                    if self._awaiting_pong:
                        raise WatchError("no answer to the last PING")
                    self._awaiting_pong = True
                    pubsub.ping(PING)
                    self._resync()
                    next_check = time.monotonic() + self._resync_seconds
        finally:
            self._version = None
            if connection is not None:
                connection.deregister_connect_callback(self._on_reconnect)
            pubsub.close()

    def _apply(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribe":  # the subscription is live: now read what came before it
            self._resync()
        elif kind == "message" and self._version is not None:
            self._version = _text(message["data"])
        elif kind == "pong":
            self._awaiting_pong = False

    def _resync(self) -> None:
        version = self._read()
        if version is None:
            raise WatchError("the shared cache did not answer the version")
        self._version = version
        self._synced = True

    def _on_reconnect(self, connection: Any) -> None:
        self._version = None


class ProcessWatch:
    """This process's watcher of ``key``, started on first use, again after a fork.

    Without a Redis cache there is nothing to watch: ``version()`` is always ``None``.
    """

    def __init__(self, *, key: str, read: Callable[[], str | None]) -> None:
        self._key = key
        self._read = read
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._watch: VersionWatch | None = None
        _watches.append(self)  # reset when the (test) settings swap the cache

    def version(self) -> str | None:
        """The watched version, or ``None``: then the caller reads the shared cache."""
        if self._pid != os.getpid():
            self._start()
        watch = self._watch
        return None if watch is None else watch.version()

    def publish(self, version: str) -> None:
        """Tell every process's watcher; an error is logged, as the tolerant cache does."""
        client = _redis_client()
        if client is None:
            return
        try:
            client.publish(channel_for(self._key, client), version)
        except Exception as exc:
            logger.warning("RBAC version not published, watchers re-read it later: %s", exc)

    def reset(self) -> None:
        """Stop this process's watcher; the next ``version()`` starts a new one."""
        with self._lock:
            if self._watch is not None and self._pid == os.getpid():
                self._watch.stop()
            self._pid, self._watch = None, None

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            client = _redis_client()
            self._watch = None
            if client is not None:
                self._watch = VersionWatch(
                    client=client, channel=channel_for(self._key, client), read=self._read
                )
                self._watch.start()
            self._pid = os.getpid()

    def install(self, watch: VersionWatch | None) -> None:
        """Use ``watch`` in this process instead of one built from the cache (tests)."""
        self.reset()
        with self._lock:
            self._pid, self._watch = os.getpid(), watch


def channel_for(key: str, client: Any) -> str:
    """The channel for ``key``'s changes: the cache's full key name, plus the database.

    Pub/sub channels are server-wide, not per database: two deployments (or test runs) on
    one server with different database numbers must not hear each other's versions.
    """
    db = client.connection_pool.connection_kwargs.get("db", 0)
    return f"{cache.make_key(key)}@db{db}"


def _redis_client() -> Any:
    default = redis_cache()
    return None if default is None else default.redis_client()


def _text(data: bytes | str) -> str:
    return data.decode() if isinstance(data, bytes) else data


@receiver(setting_changed)
def _cache_changed(*, setting: str, **_: Any) -> None:
    if setting == "CACHES":
        for watch in _watches:
            watch.reset()
