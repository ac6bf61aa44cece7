"""Each process learns the mapping version through Redis pub/sub, not a GET per request.

``apps/rbac/version_watch.py``: a bump in another process reaches this one's watcher at once
and the request path reads no cache; a watcher that loses Redis hands the request path back
to the cache read (and its degraded mode) and takes over again when Redis returns; a forked
child starts its own watcher; without Redis there is no watcher at all.

Counted GETs are the request path's (this thread's), not the watcher's own safety reads.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.core.cache import cache

from apps.rbac import resolution
from apps.rbac.resolution import VERSION_KEY
from apps.rbac.version_watch import VersionWatch, channel_for
from benchmarks.server import ROOT, free_port

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs REDIS_URL: the watcher listens to Redis pub/sub (CI sets it)",
)


class CountingCache:
    """The tolerant cache, counting the GETs made by the thread that created it."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._thread = threading.get_ident()
        self.gets = 0

    def get(self, key: str) -> Any:
        if threading.get_ident() == self._thread:
            self.gets += 1
        return self._inner.get(key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def own_watch() -> Iterator[None]:
    """This process's watcher starts afresh with the test and is stopped after it."""
    resolution._watch.reset()
    yield
    resolution._watch.reset()


@pytest.fixture
def request_gets(monkeypatch: pytest.MonkeyPatch) -> CountingCache:
    counting = CountingCache(resolution.tolerant_cache)
    monkeypatch.setattr(resolution, "tolerant_cache", counting)
    return counting


def eventually(check: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def bump_in_another_process() -> str:
    """``bump_version()`` run by a separate Python process on the same Redis; the new version."""
    code = (
        "import django; django.setup()\n"
        "from django.core.cache import cache\n"
        "from apps.rbac.resolution import VERSION_KEY, bump_version\n"
        "bump_version(); print(cache.get(VERSION_KEY))\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip()


@needs_redis
def test_a_bump_in_another_process_is_seen_within_a_second_without_a_request_get(
    own_watch: None, request_gets: CountingCache
) -> None:
    first = resolution._shared_version()  # starts the watcher (this read may be a GET)
    assert eventually(lambda: resolution._watch.version() == first, within=2.0)
    request_gets.gets = 0

    version = bump_in_another_process()
    assert version not in {None, "", first}
    assert eventually(lambda: resolution._shared_version() == version, within=1.0)
    assert request_gets.gets == 0


class CuttableRelay:
    """A loopback TCP relay to Redis: cutting it drops the connections and refuses new ones."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._open = threading.Event()
        self._acceptor: threading.Thread | None = None

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.05)
        self._open.set()
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def cut(self) -> None:
        self._open.clear()
        if self._acceptor is not None:
            self._acceptor.join()  # listener closed first: reconnections are refused
        for sock in self._sockets:
            with contextlib.suppress(OSError):  # already closed by its relay thread
                sock.shutdown(socket.SHUT_RDWR)  # wakes the relay threads; the peers see EOF
            sock.close()
        self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._open.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                self._sockets += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            sock.close()


@needs_redis
def test_a_watcher_that_loses_redis_falls_back_to_gets_and_recovers(
    own_watch: None, request_gets: CountingCache
) -> None:
    direct = cache.redis_client()
    kwargs = direct.connection_pool.connection_kwargs
    relay = CuttableRelay((kwargs["host"], kwargs["port"]))
    relay.open()
    # Built as Django's cache builds its client: a pool from the URL, no retry policy.
    pool = redis.ConnectionPool.from_url(
        f"redis://127.0.0.1:{relay.port}/{kwargs['db']}", socket_timeout=0.5
    )
    through_relay = redis.Redis(connection_pool=pool)
    watch = VersionWatch(
        client=through_relay,
        channel=channel_for(VERSION_KEY, direct),
        read=resolution._read_shared_version,
        retry_seconds=(0.1, 0.2),
    )
    resolution._watch.install(watch)
    watch.start()
    assert eventually(lambda: watch.version() is not None, within=2.0)
    request_gets.gets = 0
    assert resolution._shared_version() == cache.get(VERSION_KEY)
    assert request_gets.gets == 0

    relay.cut()
    assert eventually(lambda: watch.version() is None, within=2.0)
    resolution.bump_version()  # published while the watcher is not listening
    assert resolution._shared_version() == cache.get(VERSION_KEY)  # read from the cache
    assert request_gets.gets >= 1

    relay.open()
    assert eventually(lambda: watch.version() == cache.get(VERSION_KEY), within=3.0)
    request_gets.gets = 0
    assert resolution._shared_version() == cache.get(VERSION_KEY)
    assert request_gets.gets == 0
    watch.stop()
    relay.cut()  # closes its Redis side too: no subscriber outlives the test


@needs_redis
def test_a_forked_child_starts_its_own_watcher(own_watch: None) -> None:
    parent = resolution._shared_version()
    assert eventually(lambda: resolution._watch.version() == parent, within=2.0)
    parents_watch = resolution._watch._watch
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: the parent's thread did not survive the fork
        healthy = eventually(lambda: resolution._watch.version() == parent, within=2.0)
        replaced = resolution._watch._watch is not parents_watch
        os.write(writer, b"%d%d" % (healthy, replaced))
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader, "rb") as answer:
        assert answer.read() == b"11"
    os.waitpid(child, 0)


def test_without_redis_there_is_no_watcher_and_each_request_reads_the_cache(
    settings: Any, own_watch: None, request_gets: CountingCache
) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.set(VERSION_KEY, "v1", None)
    assert resolution._watch.version() is None
    assert [resolution._shared_version() for _ in range(2)] == ["v1", "v1"]
    assert request_gets.gets == 2
