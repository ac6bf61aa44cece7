"""Servers the tests start: loopback HTTP fakes, and Portico under gunicorn with two workers.

Why a module of its own: several suites serve a fake (Entra, Graph, a token endpoint) from a
thread of the test process, and the cross-worker tests (the unknown-kid flood, a rule change
seen by every worker) need the same gunicorn, started the production way, with an access log
that tells which worker answered. Starting, migrating and stopping gunicorn is the
benchmarks' code (``benchmarks/server.py``), so no test leaves a worker behind either.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from benchmarks.server import free_port, gunicorn, migrate, wait_for_health
from benchmarks.server import server_env as benchmark_env
from tests.conftest import (
    API_CLIENT_ID,
    SPA_CLIENT_ID,
    TENANT,
    USER_OID,
    FakeEntra,
    TestKey,
    _handler_for,
    sign_raw,
)

# The worker's pid and the request's trace id in each access-log line, to see the spread.
ACCESS_LOG_FORMAT = "pid=%(p)s trace=%({x-trace}i)s %(s)s"
DATABASE, ACCESS_LOG = "portico.sqlite3", "access.log"  # in the server's work directory


class JsonHandler(BaseHTTPRequestHandler):
    """A loopback fake's request handler: JSON answers, no request log on the test output."""

    def send_json(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def needs_redis(why: str) -> list[pytest.MarkDecorator]:
    """The marks of a module whose gunicorn workers share state through ``REDIS_URL``."""
    return [
        pytest.mark.servers,
        pytest.mark.skipif(
            not os.environ.get("REDIS_URL"), reason=f"needs REDIS_URL: {why} (CI sets it)"
        ),
    ]


@contextmanager
def loopback(
    handler: type[BaseHTTPRequestHandler],
    *,
    tls: ssl.SSLContext | None = None,
    poll_interval: float = 0.5,
) -> Iterator[str]:
    """``handler`` served on a free 127.0.0.1 port from a daemon thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "http" if tls is None else "https"
    threading.Thread(target=server.serve_forever, args=(poll_interval,), daemon=True).start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def own_fake_entra(*published: TestKey) -> Iterator[FakeEntra]:
    """A FakeEntra of its own publishing ``published`` (the session one is reconfigured by
    other tests while a module-scoped gunicorn still trusts it)."""
    state = FakeEntra()
    state.publish(*published)
    with loopback(_handler_for(state), poll_interval=0.05) as url:
        state.base_url = url
        yield state


def delegated_token(fake_entra: FakeEntra, key: TestKey, *, kid: str = "k1", **claims: Any) -> str:
    """A v2 delegated token for the test API, as the token factory builds it (``claims`` added),
    for tests that run outside the ``entra`` fixture's settings."""
    now = int(time.time())
    payload = {
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
        **claims,
    }
    return sign_raw({"typ": "JWT", "alg": "RS256", "kid": kid}, payload, key)


@dataclass(frozen=True)
class Answer:
    status: int
    trace: str
    body: dict[str, Any]
    challenge: str


@dataclass(frozen=True)
class Portico:
    """A running gunicorn: its port, its environment (for other processes) and files."""

    port: int
    env: dict[str, str]
    workdir: Path

    @property
    def database(self) -> Path:
        return self.workdir / DATABASE

    @property
    def access_log(self) -> Path:
        return self.workdir / ACCESS_LOG

    def get(self, path: str, token: str | None = None) -> Answer:
        """One GET on a fresh connection (``Connection: close``), so any worker may answer."""
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
        lines = re.findall(r"^pid=<(\d+)> trace=(\w+)", self.access_log.read_text(), re.M)
        return {pid for pid, trace in lines if trace in traces}

    def from_both_workers(
        self,
        send: Callable[[], Answer],
        check: Callable[[list[Answer]], None] = lambda answers: None,
        *,
        batches: int = 10,
        batch: int = 16,
    ) -> list[Answer]:
        """Batches of concurrent ``send()`` until two workers answered; each must be a 200
        and pass ``check`` (called with every answer so far after each batch)."""
        answers: list[Answer] = []
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(batches):
                answers += pool.map(lambda _: send(), range(batch))
                assert {answer.status for answer in answers} == {HTTPStatus.OK}
                check(answers)
                if len(self.workers_that_served(answers)) >= 2:
                    return answers
        pytest.fail("the requests reached one worker only")


@contextmanager
def two_workers(fake_entra: FakeEntra, workdir: Path, **env: str) -> Iterator[Portico]:
    """gunicorn as production starts it, two sync workers sharing ``REDIS_URL``, a migrated
    SQLite database of its own and Portico trusting ``fake_entra``; ``env`` added."""
    port = free_port()
    # The benchmarks' environment (only ``fake_entra.authority`` is read), for the tests'
    # tenant and API; the caller's DJANGO_SETTINGS_MODULE and PORTICO_*/ENTRA_* left out.
    server_env = benchmark_env(
        fake_entra,
        port=port,
        database_url=f"sqlite:///{workdir / DATABASE}",
        redis_url=os.environ.get("REDIS_URL"),
        workers=2,
    )
    server_env.update(
        ENTRA_TENANT_ID=TENANT,
        ENTRA_API_CLIENT_ID=API_CLIENT_ID,
        GUNICORN_ACCESSLOG=str(workdir / ACCESS_LOG),
        GUNICORN_CMD_ARGS=f"--access-logformat {shlex.quote(ACCESS_LOG_FORMAT)}",
        **env,
    )
    migrate(server_env)
    _forget_shared_state()
    log = workdir / "gunicorn.out"
    with gunicorn(server_env, log) as process:
        wait_for_health(f"http://127.0.0.1:{port}", process, log)
        yield Portico(port, server_env, workdir)


def _forget_shared_state() -> None:
    """Users and a mapping version cached by other runs must not leak in (same Redis db)."""
    from django.core.cache import cache

    cache.clear()
