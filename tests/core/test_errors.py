"""Paths under /api/ that no view answers still get the API's JSON error body."""

from __future__ import annotations

from http import HTTPStatus

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/nope", "/api/projects/0.5/", "/api/rbac/unknown/"])
def test_an_unknown_api_path_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}
    assert response["Cache-Control"] == "no-store"


def test_a_crash_under_api_is_a_json_500_without_details(client, monkeypatch):
    from apps.api import views

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(views.HealthView, "get", boom)
    client.raise_request_exception = False
    response = client.get("/api/health")
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert response.json() == {"detail": "Server error.", "code": "server_error"}
    assert b"secret internals" not in response.content


def test_a_missing_page_outside_api_keeps_django_s_html_404(client):
    response = client.get("/dev-issuer/no-such-document")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response["Content-Type"].startswith("text/html")
