"""A Redis outage degrades, never fails: authenticated requests keep getting 200.

A real redis-server of the test's own is the shared cache; it is killed in the middle of the
run. The signing keys, the user map and the RBAC snapshot keep serving from process memory,
no request waits long, and one warning is logged, not one per request.
"""

from __future__ import annotations

import logging
import time
import uuid
from http import HTTPStatus

import pytest
from django.core.cache import caches

from apps.core import metrics
from apps.entra_auth import runtime, users
from apps.rbac import resolution
from tests.conftest import TENANT, USER_OID, bearer
from tests.production.conftest import redis_cache_settings

pytestmark = [pytest.mark.servers, pytest.mark.django_db]


@pytest.fixture
def redis_backed(settings, redis_server, entra):
    """Portico with the private Redis as its shared cache, every in-process cache cold."""
    settings.CACHES = redis_cache_settings(redis_server.url, down_seconds=5)
    caches["default"].clear()
    runtime.reset()
    users.forget_all()
    resolution.bump_version()
    return redis_server


def me(client, token: str) -> tuple[int, float]:
    started = time.perf_counter()
    response = client.get("/api/me", **bearer(token))
    return response.status_code, time.perf_counter() - started


def test_authenticated_requests_still_succeed_after_redis_dies(
    client, token_factory, redis_backed, caplog
):
    token = token_factory()
    assert me(client, token)[0] == HTTPStatus.OK  # warm: keys and user cached, in Redis too
    assert caches["default"].get(f"entra:user:{TENANT}:{USER_OID}") is not None  # Redis in use
    errors_before = metrics.value("portico_cache_errors_total")

    redis_backed.kill()
    with caplog.at_level(logging.WARNING):
        outcomes = [me(client, token) for _ in range(5)]  # the same token
        outcomes += [me(client, token_factory()) for _ in range(5)]  # new tokens: validated again
        stranger = token_factory(claims={"oid": str(uuid.uuid4())})  # a user not seen yet
        outcomes.append(me(client, stranger))

    assert [status for status, _ in outcomes] == [HTTPStatus.OK] * len(outcomes)
    # Connection refused costs nothing; a hung Redis would cost one socket_timeout (0.5 s)
    # once, then nothing during the back-off.
    assert max(duration for _, duration in outcomes) < 1.0
    cache_warnings = [r for r in caplog.records if r.name == "apps.core.cache"]
    assert len(cache_warnings) == 1
    assert metrics.value("portico_cache_errors_total") > errors_before


def test_ready_stays_in_service_and_reports_the_cache_degraded(client, redis_backed):
    assert client.get("/api/ready").json()["degraded"] == []
    redis_backed.kill()
    response = client.get("/api/ready")
    assert response.status_code == HTTPStatus.OK
    assert response.json()["degraded"] == ["cache"]
