"""PostgreSQL out of reach: /api/ready answers 503 naming the database, within 2 s.

Each case runs a fresh Django process whose DATABASE_URL points at PostgreSQL that is not
there: a closed port (a stopped server: connection refused) and a listener that accepts and
never answers (a hung server or a black-holed network: libpq would wait connect_timeout,
2 s at least). The readiness probe's own deadline (1.5 s) must win in both.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path

import pytest

from benchmarks.server import free_port

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.servers

PROBE = """
import json, time
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST="localhost")
client.get("/api/health")  # import everything first: only the probe is timed
started = time.perf_counter()
response = client.get("/api/ready")
elapsed = time.perf_counter() - started
print(json.dumps({"status": response.status_code, "body": response.json(), "elapsed": elapsed}))
"""


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def ready_with_database_at(port: int) -> dict:
    environ = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PORTICO_ENV": "dev",
        "PORTICO_DEV_ISSUER": "0",
        "DATABASE_URL": f"postgres://portico:portico@127.0.0.1:{port}/portico",
        # Keys from a closed port too: refused at once, so only the database is timed.
        "ENTRA_AUTHORITY_HOST": f"http://127.0.0.1:{free_port()}",
        "ENTRA_ALLOW_INSECURE_AUTHORITY": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_ready_fails_fast_when_postgresql_is_stopped():
    answer = ready_with_database_at(free_port())
    assert answer["status"] == HTTPStatus.SERVICE_UNAVAILABLE
    assert "database" in answer["body"]["not_ready"]
    assert answer["elapsed"] < 2.0


def test_ready_fails_within_2_seconds_when_postgresql_hangs(silent_listener):
    answer = ready_with_database_at(silent_listener)
    assert answer["status"] == HTTPStatus.SERVICE_UNAVAILABLE
    assert "database" in answer["body"]["not_ready"]
    assert answer["elapsed"] < 2.0
