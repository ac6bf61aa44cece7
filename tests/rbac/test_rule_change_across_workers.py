"""A rule change reaches every gunicorn worker through the version in Redis (issue 3).

gunicorn runs the production command with two sync workers sharing Redis, against a
temporary SQLite database and the loopback fake Entra (served from this process). Rules are
changed by a third process (``manage.py shell``, as an admin's container would): through
the ORM and ``apps.rbac.services``, so the version bump goes to Redis when the transaction
commits. After each change every answer, from both workers, must show it.

The last step is the control: a change written straight into the database, bypassing Django
(so no version bump), is *not* seen, because the workers answer from their in-memory
snapshot; bumping the version alone then makes both of them reload it.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

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
ROLE = "Orders.Auditor"
GRANTED = "projects.view_project"
BATCH = 16  # concurrent requests per batch: enough for both workers to take some
MAX_BATCHES = 10

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"),
        reason="needs REDIS_URL: the workers learn of rule changes through Redis (CI sets it)",
    ),
]


@dataclass(frozen=True)
class Answer:
    status: int
    trace: str
    body: dict[str, Any]


@dataclass
class Portico:
    """A running gunicorn, its environment (for the writer process) and its access log."""

    port: int
    env: dict[str, str]
    log: Path
    database: Path

    def me(self, token: str) -> Answer:
        """GET /api/me on a fresh connection (``Connection: close``): any worker may answer."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        trace = uuid.uuid4().hex
        headers = {"Connection": "close", "X-Trace": trace, "Authorization": f"Bearer {token}"}
        try:
            connection.request("GET", "/api/me", headers=headers)
            response = connection.getresponse()
            body = json.loads(response.read() or b"{}")
        finally:
            connection.close()
        return Answer(response.status, trace, body)

    def workers_that_served(self, answers: list[Answer]) -> set[str]:
        """The pids of the workers that answered (gunicorn logs just after responding)."""
        traces = {answer.trace for answer in answers}
        time.sleep(0.2)
        lines = re.findall(r"^pid=<(\d+)> trace=(\w+)", self.log.read_text(), re.M)
        return {pid for pid, trace in lines if trace in traces}

    def run_as_admin(self, code: str) -> str:
        """Python run by ``manage.py shell`` in another process, on the same DB and Redis."""
        done = subprocess.run(
            [BIN / "python", "manage.py", "shell", "-c", code],
            cwd=REPO,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout


def _free_port() -> int:
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
    workdir = tmp_path_factory.mktemp("rbac-workers")
    port = _free_port()
    database = workdir / "portico.sqlite3"
    env = {
        **os.environ,
        "PORTICO_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "DATABASE_URL": f"sqlite:///{database}",
        "PORTICO_ENV": "dev",
        "PORTICO_DEV_ISSUER": "0",
        "DJANGO_DEBUG": "0",
        "ENTRA_TENANT_ID": TENANT,
        "ENTRA_API_CLIENT_ID": API_CLIENT_ID,
        "ENTRA_AUTHORITY_HOST": fake_entra.authority,
        "ENTRA_ALLOW_INSECURE_AUTHORITY": "1",
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
        running = Portico(port, env, workdir / "access.log", database)
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
    """Users and a mapping version cached by other runs must not leak in (same Redis db)."""
    from django.core.cache import cache

    cache.clear()


def _wait_until_healthy(running: Portico, server: subprocess.Popen[bytes], out: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.returncode}:\n{out.read_text()}")
        connection = http.client.HTTPConnection("127.0.0.1", running.port, timeout=1)
        try:
            connection.request("GET", "/api/health")
            if connection.getresponse().status == HTTPStatus.OK:
                return
        except OSError:
            time.sleep(0.1)
        finally:
            connection.close()
    pytest.fail(f"gunicorn did not become healthy:\n{out.read_text()}")


def make_token(fake_entra: FakeEntra, key: TestKey, roles: list[str]) -> str:
    """A v2 delegated token for the test API carrying ``roles``."""
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
        "roles": roles,
        "name": "Test User",
        "preferred_username": "test.user@example.com",
        "uti": uuid.uuid4().hex[:22],
    }
    return sign_raw({"typ": "JWT", "alg": "RS256", "kid": "k1"}, claims, key)


def every_worker_answers(
    portico: Portico, token: str, check: Callable[[dict[str, Any]], bool]
) -> list[Answer]:
    """Batches of concurrent requests until both workers answered; every answer must pass."""
    answers: list[Answer] = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(MAX_BATCHES):
            answers += pool.map(lambda _: portico.me(token), range(BATCH))
            assert {answer.status for answer in answers} == {HTTPStatus.OK}
            wrong = [answer.body for answer in answers if not check(answer.body)]
            assert wrong == [], f"{len(wrong)} of {len(answers)} answers were stale: {wrong[0]}"
            if len(portico.workers_that_served(answers)) >= 2:
                return answers
    pytest.fail("the requests reached one worker only")


def granted(body: dict[str, Any]) -> bool:
    return body["permissions"] == [GRANTED] and [r["value"] for r in body["matched_rules"]] == [
        ROLE
    ]


def nothing(body: dict[str, Any]) -> bool:
    return body["permissions"] == [] and body["matched_rules"] == []


SAVE_RULE = """
from django.contrib.auth.models import Permission
from apps.rbac.models import MappingRule
from apps.rbac.services import mapping_save
app_label, codename = {granted!r}.split(".")
perm = Permission.objects.get(content_type__app_label=app_label, codename=codename)
rule = MappingRule.objects.filter(source_kind="app_role", source_value={role!r}).first()
data = {{"source_kind": "app_role", "source_value": {role!r}, "is_active": {active!r},
        "label": "Order auditors"}}
rule = mapping_save(rule=rule, data=data, permissions=[perm], via="test")
print(rule.pk)
"""
BUMP_ONLY = "from apps.rbac.resolution import bump_version; bump_version()"


def shared_version() -> str | None:
    """The mapping version in Redis, read from this process (same REDIS_URL and prefix)."""
    from django.core.cache import cache

    from apps.rbac.resolution import VERSION_KEY

    return cache.get(VERSION_KEY)


def test_rule_changes_reach_both_workers_through_redis(
    portico: Portico, fake_entra: FakeEntra, keys: dict[str, TestKey]
) -> None:
    token = make_token(fake_entra, keys["k1"], [ROLE])
    every_worker_answers(portico, token, nothing)  # both warm, no rule for the role yet
    version = shared_version()
    assert version is not None

    portico.run_as_admin(SAVE_RULE.format(granted=GRANTED, role=ROLE, active=True))
    assert shared_version() not in {None, version}  # bumped in Redis by the other process
    every_worker_answers(portico, token, granted)

    version = shared_version()
    portico.run_as_admin(SAVE_RULE.format(granted=GRANTED, role=ROLE, active=False))
    assert shared_version() not in {None, version}
    every_worker_answers(portico, token, nothing)

    # Control: reactivated behind Django's back (no signal, no bump), the rule stays unseen...
    with closing(sqlite3.connect(portico.database)) as db, db:
        changed = db.execute(
            "UPDATE rbac_mappingrule SET is_active = 1 WHERE source_value = ?", (ROLE,)
        ).rowcount
    assert changed == 1
    every_worker_answers(portico, token, nothing)
    # ... until the version moves: then both workers reload the rules.
    portico.run_as_admin(BUMP_ONLY)
    every_worker_answers(portico, token, granted)
