"""CORS: off by default (the SPA is same-origin); CORS_ALLOWED_ORIGINS opens /api only, to
explicit origins, without credentials, with Authorization allowed and preflights cached."""

from __future__ import annotations

import os
import runpy
from http import HTTPStatus
from pathlib import Path

import pytest
from django.conf import settings as django_settings

VITE = "http://localhost:5173"


def preflight(client, path: str = "/api/me", origin: str = VITE):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


@pytest.fixture
def cors(settings, configure):
    settings.CORS_ALLOWED_ORIGINS = [VITE]


def test_cors_is_off_by_default(client, configure):
    assert django_settings.CORS_ALLOWED_ORIGINS == []
    response = preflight(client)
    assert not response.has_header("Access-Control-Allow-Origin")
    get = client.get("/api/health", HTTP_ORIGIN=VITE)
    assert not get.has_header("Access-Control-Allow-Origin")


def test_an_allowed_origin_gets_a_cached_preflight_allowing_authorization(client, cors):
    response = preflight(client)
    assert response.status_code == HTTPStatus.OK
    assert response["Access-Control-Allow-Origin"] == VITE
    assert "authorization" in response["Access-Control-Allow-Headers"].split(", ")
    assert "GET" in response["Access-Control-Allow-Methods"]
    assert response["Access-Control-Max-Age"] == "3600"
    assert not response.has_header("Access-Control-Allow-Credentials")


def test_an_allowed_origin_can_read_api_responses_without_credentials(client, cors):
    response = client.get("/api/health", HTTP_ORIGIN=VITE)
    assert response.status_code == HTTPStatus.OK
    assert response["Access-Control-Allow-Origin"] == VITE
    assert not response.has_header("Access-Control-Allow-Credentials")
    assert "origin" in response["Vary"].lower()


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "http://localhost:5174", "null", "http://localhost"]
)
def test_other_origins_get_nothing(client, cors, origin):
    response = preflight(client, origin=origin)
    assert not response.has_header("Access-Control-Allow-Origin")


@pytest.mark.parametrize("path", ["/config.json", "/", "/admin/login/", "/dev-issuer/x"])
def test_cors_never_applies_outside_the_api(client, cors, path):
    assert not preflight(client, path=path).has_header("Access-Control-Allow-Origin")
    assert not client.get(path, HTTP_ORIGIN=VITE).has_header("Access-Control-Allow-Origin")


def test_the_variable_is_read_as_a_list_of_origins(monkeypatch):
    environ = {"CORS_ALLOWED_ORIGINS": f"{VITE}, https://app.example.com"}
    monkeypatch.setattr(os, "environ", environ)
    loaded = runpy.run_path(str(Path(django_settings.BASE_DIR) / "config" / "settings.py"))
    assert loaded["CORS_ALLOWED_ORIGINS"] == [VITE, "https://app.example.com"]
    assert loaded["CORS_ALLOW_CREDENTIALS"] is False
