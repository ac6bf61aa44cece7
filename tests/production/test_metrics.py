"""Counters move with outcomes, and /api/metrics shows them to holders of core.view_metrics."""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache

from apps.core import metrics
from apps.entra_auth import runtime
from apps.rbac import resolution, services
from apps.rbac.models import SourceKind, TokenKinds
from tests.conftest import bearer

pytestmark = pytest.mark.django_db
SCRAPER_ROLE = "Portico.Metrics.Read"
IN_PROCESS_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


class Delta:
    """Counter changes since creation: ``delta("name", label=value)``."""

    def __init__(self) -> None:
        self.before = metrics.snapshot()

    def __call__(self, name: str, **labels: str) -> int:
        key = (name, tuple(sorted(labels.items())))
        return metrics.snapshot().get(key, 0) - self.before.get(key, 0)


@pytest.fixture
def scraper_rule(django_capture_on_commit_callbacks):
    """A mapping rule granting core.view_metrics to daemons holding the scraper app role."""
    resolution.bump_version()
    with django_capture_on_commit_callbacks(execute=True):
        services.mapping_save(
            rule=None,
            data={
                "source_kind": SourceKind.APP_ROLE,
                "source_value": SCRAPER_ROLE,
                "token_kinds": TokenKinds.APP,
            },
            groups=(),
            permissions=[
                Permission.objects.get(content_type__app_label="core", codename="view_metrics")
            ],
            via="test",
        )
    yield
    resolution.bump_version()


def test_authentication_outcomes_are_counted_by_reason(client, token_factory):
    delta = Delta()
    client.get("/api/me", **bearer(token_factory()))
    client.get("/api/me", **bearer(token_factory(claims={"exp": 1_000_000_000})))
    client.get("/api/me", **bearer(token_factory(claims={"aud": "api://someone-else"})))
    client.get("/api/me", HTTP_AUTHORIZATION="Bearer a b")
    assert delta("portico_auth_total", result="accepted", reason="accepted") == 1
    assert delta("portico_auth_total", result="invalid_token", reason="expired") == 1
    assert delta("portico_auth_total", result="invalid_token", reason="bad_audience") == 1
    assert delta("portico_auth_total", result="invalid_request", reason="syntax") == 1


def test_requests_are_counted_by_status_class(client):
    delta = Delta()
    client.get("/api/health")
    client.get("/api/me")
    client.get("/api/no-such-thing")
    assert delta("portico_http_requests_total", status_class="2xx") == 1
    assert delta("portico_http_requests_total", status_class="4xx") == 2


def test_key_fetches_and_their_failures_are_counted(client, token_factory, entra):
    delta = Delta()
    client.get("/api/me", **bearer(token_factory()))
    assert delta("portico_keys_fetches_total", result="ok") == 1
    entra.mode = "down"
    runtime.reset()  # a cold process, with nothing in the shared cache: it must fetch
    cache.clear()
    response = client.get("/api/me", **bearer(token_factory()))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert delta("portico_keys_fetches_total", result="failed") == 1
    assert delta("portico_auth_total", result="keys_unavailable", reason="keys_unavailable") == 1


def test_user_map_lookups_are_counted_by_where_they_were_found(client, token_factory):
    delta = Delta()
    client.get("/api/me", **bearer(token_factory()))
    client.get("/api/me", **bearer(token_factory()))
    assert delta("portico_user_cache_total", found="database") == 1
    assert delta("portico_user_cache_total", found="process") == 1


def test_overage_tokens_are_counted(client, token_factory):
    delta = Delta()
    overage = token_factory(claims={"_claim_names": {"groups": "src1"}})
    assert client.get("/api/me", **bearer(overage)).status_code == HTTPStatus.OK
    assert delta("portico_groups_overage_total") == 1


def test_metrics_need_a_token(client):
    assert client.get("/api/metrics").status_code == HTTPStatus.UNAUTHORIZED


def test_metrics_refuse_a_token_without_the_permission(client, token_factory, scraper_rule):
    user = token_factory(claims={"roles": [SCRAPER_ROLE]})  # the role, but on a user's token
    daemon = token_factory(app=True, claims={"roles": ["Portico.Read"]})
    for token in (user, daemon):
        response = client.get("/api/metrics", **bearer(token))
        assert response.status_code == HTTPStatus.FORBIDDEN
        assert response.json()["required"] == ["core.view_metrics"]


def test_metrics_are_prometheus_text_for_a_mapped_scraper(
    client, token_factory, scraper_rule, settings
):
    # Without Redis the scrape shows this process (test_metrics_fleet.py: with Redis).
    settings.CACHES = IN_PROCESS_CACHE
    scraper = token_factory(app=True, claims={"roles": [SCRAPER_ROLE]})
    client.get("/api/health")
    response = client.get("/api/metrics", **bearer(scraper))
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert "# TYPE portico_http_requests_total counter" in body
    # The scrape itself is counted once answered, after the body was rendered.
    count = metrics.value("portico_http_requests_total", status_class="2xx") - 1
    assert f'portico_http_requests_total{{status_class="2xx"}} {count}' in body
    assert "portico_auth_total{" in body
    assert 'portico_metrics_scope{scope="process"} 1' in body


def test_label_values_are_escaped_in_the_exposition():
    metrics.increment("portico_test_escape_total", reason='a"b\\c\nd')
    assert 'portico_test_escape_total{reason="a\\"b\\\\c\\nd"} ' in metrics.render()


def test_the_metrics_permission_exists_after_migrate():
    permission = Permission.objects.get(content_type__app_label="core", codename="view_metrics")
    assert permission.name == "Can view metrics"
