"""config/gunicorn.conf.py: settings from the environment, JSON access log, SIGTERM drains.

The server tests start the production command (gunicorn -c config/gunicorn.conf.py) with
tests/production/slow_settings.py, which adds a test-only ``/slow`` endpoint.
"""

from __future__ import annotations

import http.client
import json
import os
import runpy
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest

from benchmarks.server import free_port, gunicorn, wait_for_health

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "config" / "gunicorn.conf.py"


def load_conf(monkeypatch: pytest.MonkeyPatch, **environ: str) -> dict[str, Any]:
    for name in ("GUNICORN_WORKERS", "WEB_CONCURRENCY", "GUNICORN_KEEPALIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


@pytest.mark.parametrize(("cpus", "workers"), [(1, 3), (2, 5), (3, 7), (16, 8)])
def test_workers_default_to_twice_the_cpus_plus_one_capped(monkeypatch, cpus, workers):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert load_conf(monkeypatch)["workers"] == workers


def test_workers_come_from_the_environment(monkeypatch):
    assert load_conf(monkeypatch, GUNICORN_WORKERS="3")["workers"] == 3
    assert load_conf(monkeypatch, WEB_CONCURRENCY="4")["workers"] == 4
    assert load_conf(monkeypatch, WEB_CONCURRENCY="4", GUNICORN_WORKERS="6")["workers"] == 6


def test_keep_alive_outlasts_the_albs_idle_timeout_and_drain_fits_ecs(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["keepalive"] > 60  # the ALB's default idle timeout
    assert conf["graceful_timeout"] < 30  # ECS stopTimeout's default: SIGKILL after it


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    access_log: Path

    def get(self, path: str, **headers: str) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("GET", path, headers={"Host": "localhost", **headers})
        response = connection.getresponse()
        response.read()
        return response


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """One sync worker of the production command, with the test-only /slow endpoint."""
    port = free_port()
    environ = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}},
        "DJANGO_SETTINGS_MODULE": "tests.production.slow_settings",
        "PORTICO_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_GRACEFUL_TIMEOUT": "10",
        "GUNICORN_ACCESSLOG": str(tmp_path / "access.log"),
        "PORTICO_ENV": "dev",
        "PORTICO_DEV_ISSUER": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portico.sqlite3'}",
    }
    with gunicorn(environ, tmp_path / "gunicorn.out") as process:
        wait_for_health(f"http://127.0.0.1:{port}", process, tmp_path / "gunicorn.out")
        yield Server(port, process, tmp_path / "access.log")


@pytest.mark.servers
def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(server):
    answers: list[tuple[int, bytes]] = []

    def slow_request() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=15)
        connection.request("GET", "/slow?seconds=2", headers={"Host": "localhost"})
        response = connection.getresponse()
        answers.append((response.status, response.read()))

    in_flight = threading.Thread(target=slow_request)
    in_flight.start()
    time.sleep(0.7)  # the worker is now inside the view
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    in_flight.join(timeout=15)
    assert answers == [(HTTPStatus.OK, b'{"slept": true}')]
    assert server.process.wait(timeout=15) == 0


@pytest.mark.servers
def test_the_access_log_is_json_without_query_string_or_credentials(server):
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    response = server.get(
        f"/api/health?access_token={token}",
        Authorization=f"Bearer {token}",
        **{"User-Agent": 'probe "quoted"/1.0', "X-Request-ID": "access-log-test"},
    )
    assert response.status == HTTPStatus.OK
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=15)
    text = server.access_log.read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    (line,) = [line for line in lines if line["request_id"] == "access-log-test"]
    assert line["method"] == "GET"
    assert line["path"] == "/api/health"
    assert line["status"] == HTTPStatus.OK
    assert line["user_agent"] == 'probe "quoted"/1.0'
    assert line["duration_ms"] >= 0
    assert token not in text
    assert "access_token" not in text
    assert "Bearer" not in text
