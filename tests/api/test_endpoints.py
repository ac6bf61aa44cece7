"""/api/health (liveness), /api/ready (readiness) and /api/me (the caller, as understood)."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.core.cache import cache

from apps.entra_auth import runtime, shared_cache
from tests.conftest import DAEMON_OID, SPA_CLIENT_ID, TENANT, USER_OID

ME_FIELDS = {
    "oid",
    "tid",
    "name",
    "username",
    "token_type",
    "scopes",
    "roles",
    "groups",
    "groups_overage",
    "permissions",
    "is_staff",
    "is_superuser",
    "matched_rules",
}


class BrokenCache:
    """Stands in for Django's cache while Redis is down: every call raises."""

    def __getattr__(self, name: str) -> object:
        def fail(*args: object, **kwargs: object) -> None:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

        return fail


@pytest.mark.django_db
def test_health_needs_no_token_and_no_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/api/health")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}


def test_health_answers_with_the_database_out_of_reach(client):
    """Without the django_db mark any database access raises: liveness needs none."""
    assert client.get("/api/health").status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_ready_when_database_and_keys_are_fine(client, entra):
    response = client.get("/api/ready")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ready", "not_ready": [], "degraded": []}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_not_ready_when_entra_is_down_on_a_cold_start(client, entra):
    """Vector 70(a): no keys yet and none to be had; the process itself stays alive."""
    entra.mode = "down"
    response = client.get("/api/ready")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["status"] == "not_ready"
    assert response.json()["not_ready"] == ["signing_keys"]
    assert client.get("/api/health").status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_ready_but_degraded_when_the_shared_cache_fails(client, entra, monkeypatch):
    """A Redis outage degrades (every cache user falls back to memory) but keeps the task
    in service: pulling every task out of the load balancer would be an outage."""
    monkeypatch.setattr(shared_cache, "cache", BrokenCache())
    response = client.get("/api/ready")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ready", "not_ready": [], "degraded": ["cache"]}


@pytest.mark.django_db
def test_ready_once_keys_came_back(client, entra):
    entra.mode = "down"
    assert client.get("/api/ready").status_code == HTTPStatus.SERVICE_UNAVAILABLE
    entra.mode = "ok"
    cache.clear()
    runtime.reset()  # a fresh worker: the cold-start retry gate is per process
    assert client.get("/api/ready").status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_me_for_a_delegated_token(client, token_factory):
    token = token_factory(
        claims={
            "scp": "access_as_user Files.Read",
            "roles": ["Portico.Reader", "Portico.Editor"],
            "groups": ["g-2", "g-1"],
        }
    )
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == HTTPStatus.OK
    assert set(response.json()) == ME_FIELDS
    assert response.json() == {
        "oid": USER_OID,
        "tid": TENANT,
        "name": "Test User",
        "username": "test.user@example.com",
        "token_type": "delegated",
        "scopes": ["Files.Read", "access_as_user"],
        "roles": ["Portico.Editor", "Portico.Reader"],
        "groups": ["g-1", "g-2"],
        "groups_overage": False,
        "permissions": [],  # no mapping rule exists: deny by default
        "is_staff": False,
        "is_superuser": False,
        "matched_rules": [],
    }


@pytest.mark.django_db
def test_me_reports_group_overage(client, token_factory):
    token = token_factory(claims={"_claim_names": {"groups": "src1"}})
    body = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert body["groups"] == []
    assert body["groups_overage"] is True


@pytest.mark.django_db
def test_me_for_an_app_only_token(client, token_factory):
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token_factory(app=True)}")
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert set(body) == ME_FIELDS
    assert body["oid"] == DAEMON_OID
    assert body["tid"] == TENANT
    assert body["token_type"] == "app"
    assert body["name"].startswith("Application ")
    assert body["username"] == ""
    assert body["scopes"] == []
    assert body["roles"] == ["Portico.Read"]
    assert SPA_CLIENT_ID not in body.values()


def test_me_without_a_token_is_401_with_a_bare_challenge(client):
    response = client.get("/api/me")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="portico"'
    assert response.json()["code"] == "not_authenticated"
