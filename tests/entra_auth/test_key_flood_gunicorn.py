"""Vector 35 for real: an unknown-kid flood across two gunicorn workers sharing Redis.

gunicorn runs the production command against a temporary SQLite database and the loopback
fake Entra (served from this process). 1 000 tokens with random ``kid`` values, spread over
both workers, must cost at most one JWKS fetch in total, while a valid K1 token keeps
getting 200.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from apps.entra_auth.fetch import fetch_document
from apps.entra_auth.issuers import V2, discovery_url
from apps.entra_auth.keys import SigningKeyStore
from apps.entra_auth.shared_cache import TolerantCache
from tests.conftest import (
    API_CLIENT_ID,
    SPA_CLIENT_ID,
    TENANT,
    USER_OID,
    FakeEntra,
    _handler_for,
    sign_raw,
)

if TYPE_CHECKING:
    from tests.conftest import TestKey

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
FLOOD_SIZE = 1000
CLIENT_THREADS = 16

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="needs REDIS_URL: the workers share the refresh gate through Redis (CI sets it)",
    ),
]


@dataclass
class Answer:
    status: int
    trace: str
    body: dict[str, object]
    challenge: str


@dataclass
class Portico:
    """A running gunicorn: where it listens and its access log (worker pid + trace id)."""

    port: int
    log: Path

    def get(self, path: str, token: str | None = None) -> Answer:
        # A fresh connection per request (no keep-alive), so requests spread over the workers.
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        trace = uuid.uuid4().hex
        headers = {"Connection": "close", "X-Trace": trace}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            body = json.loads(response.read() or b"{}")
            challenge = response.getheader("WWW-Authenticate", "")
        finally:
            connection.close()
        return Answer(response.status, trace, body, challenge)

    def workers_that_served(self, answers: list[Answer]) -> set[str]:
        """The pids of the workers that answered (gunicorn logs just after responding)."""
        traces = {answer.trace for answer in answers}
        time.sleep(0.2)
        lines = re.findall(r"^pid=<(\d+)> trace=(\w+)", self.log.read_text(), re.M)
        return {pid for pid, trace in lines if trace in traces}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def fake_entra(keys: dict[str, TestKey]) -> Iterator[FakeEntra]:
    """A FakeEntra of its own (the session one is reconfigured by other tests)."""
    state = FakeEntra()
    state.publish(keys["k1"])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def portico(fake_entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portico]:
    workdir = tmp_path_factory.mktemp("flood")
    port = _free_port()
    env = {
        **os.environ,
        "PORTICO_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": f"sqlite:///{workdir / 'portico.sqlite3'}",
        "PORTICO_ENV": "dev",
        "PORTICO_DEV_ISSUER": "0",
        "DJANGO_DEBUG": "0",
        "ENTRA_TENANT_ID": TENANT,
        "ENTRA_API_CLIENT_ID": API_CLIENT_ID,
        "ENTRA_AUTHORITY_HOST": fake_entra.authority,
        "ENTRA_ALLOW_INSECURE_AUTHORITY": "1",
        "ENTRA_KEYS_REFRESH_MIN_SECONDS": "300",
        "GUNICORN_ACCESSLOG": str(workdir / "access.log"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run(
        [BIN / "python", "manage.py", "migrate", "--noinput"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    _forget_shared_state()
    output = (workdir / "gunicorn.out").open("wb")
    server = subprocess.Popen(
        [
            BIN / "gunicorn",
            "-c",
            "config/gunicorn.conf.py",
            # The worker's pid and our trace id in each access-log line, to see the spread.
            "--access-logformat",
            "pid=%(p)s trace=%({x-trace}i)s %(s)s",
            "config.wsgi:application",
        ],
        cwd=REPO,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        running = Portico(port, workdir / "access.log")
        _wait_until_healthy(running, server, workdir / "gunicorn.out")
        yield running
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        output.close()


def _forget_shared_state() -> None:
    """Cached users from other databases must not leak into this server (same Redis db)."""
    from django.core.cache import cache

    cache.clear()


def _wait_until_healthy(running: Portico, server: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{out.read_text()}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=1)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == HTTPStatus.OK:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    pytest.fail(f"gunicorn did not become healthy:\n{out.read_text()}")


def make_token(fake_entra: FakeEntra, key: TestKey, kid: str) -> str:
    """A v2 delegated token for the test API, as the token factory builds it."""
    now = int(time.time())
    claims = {
        "iss": fake_entra.issuer(),
        "aud": API_CLIENT_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": TENANT,
        "oid": USER_OID,
        "sub": "pairwise-subject-1",
        "ver": "2.0",
        "azp": SPA_CLIENT_ID,
        "scp": "access_as_user",
        "name": "Test User",
        "preferred_username": "test.user@example.com",
        "uti": uuid.uuid4().hex[:22],
    }
    return sign_raw({"typ": "JWT", "alg": "RS256", "kid": kid}, claims, key)


def _warm_every_worker(portico: Portico, fake_entra: FakeEntra, k1: TestKey) -> None:
    """Every worker loads (or adopts) the keys before the flood, as in steady state."""
    assert portico.get("/api/me", make_token(fake_entra, k1, "k1")).status == HTTPStatus.OK
    answers: list[Answer] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(10):
            tokens = [make_token(fake_entra, k1, "k1") for _ in range(16)]
            answers += pool.map(lambda token: portico.get("/api/me", token), tokens)
            assert {answer.status for answer in answers} == {HTTPStatus.OK}
            if len(portico.workers_that_served(answers)) >= 2:
                return
    pytest.fail("the warm-up reached one worker only")


def _publish_keys_as_another_container(fake_entra: FakeEntra) -> None:
    """Loads the keys into Redis from this process, as a third member of the fleet would.

    The workers then adopt them without fetching, so neither has a recent attempt of its own
    and only the fleet-wide gate in Redis can keep the flood to one fetch.
    """
    store = SigningKeyStore(
        discovery_url=discovery_url(fake_entra.authority, TENANT, V2),
        expected_issuer=fake_entra.issuer(),
        fetch=partial(fetch_document, timeout=5, max_bytes=1024 * 1024, allow_http=True),
        shared=TolerantCache(),
    )
    assert store.is_ready()


def test_unknown_kid_flood_across_two_workers_costs_at_most_one_fetch(
    portico: Portico, fake_entra: FakeEntra, keys: dict[str, TestKey]
) -> None:
    assert fake_entra.fetches == {}  # starting and serving /api/health fetch no keys
    _publish_keys_as_another_container(fake_entra)
    fetched_before = fake_entra.jwks_fetches()
    _warm_every_worker(portico, fake_entra, keys["k1"])
    assert fake_entra.jwks_fetches() == fetched_before  # both workers adopted the keys
    flood = [make_token(fake_entra, keys["attacker"], uuid.uuid4().hex) for _ in range(FLOOD_SIZE)]
    valid_meanwhile: list[int] = []
    flooding = threading.Event()
    flooding.set()

    def keep_sending_a_valid_token() -> None:
        while flooding.is_set():
            answer = portico.get("/api/me", make_token(fake_entra, keys["k1"], "k1"))
            valid_meanwhile.append(answer.status)
            time.sleep(0.02)

    sender = threading.Thread(target=keep_sending_a_valid_token)
    started = time.monotonic()
    sender.start()
    try:
        with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
            answers = list(pool.map(lambda token: portico.get("/api/me", token), flood))
    finally:
        flooding.clear()
        sender.join()
    elapsed = time.monotonic() - started

    assert {answer.status for answer in answers} == {HTTPStatus.UNAUTHORIZED}
    assert all('error="invalid_token"' in answer.challenge for answer in answers)
    assert {answer.body.get("reason") for answer in answers} == {"unknown_key"}
    assert len(portico.workers_that_served(answers)) >= 2, "the flood hit one worker only"
    assert fake_entra.jwks_fetches() - fetched_before <= 1
    assert valid_meanwhile
    assert set(valid_meanwhile) == {HTTPStatus.OK}
    after = portico.get("/api/me", make_token(fake_entra, keys["k1"], "k1"))
    assert after.status == HTTPStatus.OK
    print(f"{FLOOD_SIZE} unknown-kid requests in {elapsed:.1f} s", file=sys.stderr)
