"""Real servers for the production-behaviour tests: a private redis-server per test."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from benchmarks.server import free_port

REDIS_SERVER = shutil.which("redis-server")


@dataclass
class RedisServer:
    """A redis-server on a loopback port of its own, which tests can stop and start again."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                *(REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the way a crashed or unreachable Redis looks (no goodbye to clients)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (CI installs it)")
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.kill()


def redis_cache_settings(url: str, *, down_seconds: float = 5.0) -> dict:
    """CACHES as config/settings.py builds them for REDIS_URL=url."""
    return {
        "default": {
            "BACKEND": "apps.core.cache.DegradingRedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "portico",
            "OPTIONS": {
                "socket_connect_timeout": 0.5,
                "socket_timeout": 0.5,
                "DOWN_SECONDS": down_seconds,
            },
        }
    }
