"""Security headers on HTML responses: a strict CSP with a fresh nonce, Permissions-Policy,
Referrer-Policy, nosniff, no framing, HSTS outside dev; and Django's admin working under it."""

from __future__ import annotations

import os
import re
import runpy
from http import HTTPStatus
from pathlib import Path

import pytest
from django.conf import settings as django_settings

from config.env import DEV_API_CLIENT_ID, DEV_SPA_CLIENT_ID, DEV_TENANT_ID
from frontend_config.csp import PERMISSIONS_POLICY
from tests.conftest import TENANT

# Inline code a strict CSP blocks: a script without src (JSON data blocks are not run),
# <style> elements, style attributes and event-handler attributes.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>|<style\b|\sstyle=|\son[a-z]+=",
    re.IGNORECASE,
)


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def assert_strict_headers(response) -> None:
    policy = directives(response)
    text = response["Content-Security-Policy"]
    assert "unsafe-inline" not in text
    assert "unsafe-eval" not in text
    assert "*" not in text
    (nonce,) = (v for v in policy["script-src"] if v.startswith("'nonce-"))
    assert policy["script-src"] == ["'self'", nonce]
    assert policy["style-src"] == ["'self'", nonce]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"][0] == "'self'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY
    assert response["X-Frame-Options"] == "DENY"


def test_the_shell_has_the_strict_headers(client, dist):
    response = client.get("/projects")
    assert_strict_headers(response)
    policy = directives(response)
    assert policy["connect-src"] == ["'self'", "https://login.microsoftonline.com"]
    assert policy["form-action"] == ["'self'"]


def test_connect_src_follows_the_authority_host(client, dist, configure):
    configure(ENTRA_AUTHORITY_HOST="https://localhost:8443/dev-issuer")
    assert directives(client.get("/"))["connect-src"] == ["'self'", "https://localhost:8443"]


def test_every_response_gets_a_fresh_nonce(client, dist):
    nonces = {directives(client.get("/"))["script-src"][1] for _ in range(3)}
    assert len(nonces) == 3
    assert all(len(nonce) >= len("'nonce-'") + 22 for nonce in nonces)  # ≥ 128 bits


@pytest.mark.parametrize("path", ["/nope.txt", "/assets/nope.js"])
def test_error_pages_have_the_strict_headers_too(client, dist, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert_strict_headers(response)


def test_the_not_built_page_has_the_strict_headers(client, configure):
    assert_strict_headers(client.get("/"))


def test_json_responses_carry_no_csp_but_are_nosniff(client, configure):
    response = client.get("/config.json")
    assert not response.has_header("Content-Security-Policy")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_nonce_is_on_the_request_for_templates(rf, configure):
    from frontend_config.csp import SecurityHeadersMiddleware

    seen = []

    def view(request):
        seen.append(request.csp_nonce)
        from django.http import HttpResponse

        return HttpResponse(f'<style nonce="{request.csp_nonce}"></style>')

    response = SecurityHeadersMiddleware(view)(rf.get("/"))
    assert f"'nonce-{seen[0]}'" in response["Content-Security-Policy"]


# --- HSTS -----------------------------------------------------------------------------------


def load_settings(monkeypatch, env: str) -> dict:
    environ = {"PORTICO_ENV": env, "DJANGO_SECRET_KEY": "k" * 60}
    monkeypatch.setattr(os, "environ", environ)
    return runpy.run_path(str(Path(django_settings.BASE_DIR) / "config" / "settings.py"))


def test_hsts_is_a_year_with_subdomains_outside_dev_and_off_in_dev(monkeypatch):
    for env in ("uat", "prod"):
        loaded = load_settings(monkeypatch, env)
        assert loaded["SECURE_HSTS_SECONDS"] == 31_536_000
        assert loaded["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    # Never in dev: HSTS on localhost would pin every local port to https.
    assert load_settings(monkeypatch, "dev").get("SECURE_HSTS_SECONDS", 0) == 0


def test_hsts_is_sent_on_https_responses_when_configured(client, dist, settings):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert_strict_headers(response)


# --- Django admin under the CSP -------------------------------------------------------------


@pytest.fixture
def local_admin(admin_client, configure):
    """A local superuser's admin session (break-glass password login on)."""
    configure(ADMIN_PASSWORD_LOGIN=True)
    return admin_client


@pytest.mark.django_db
def test_the_admin_login_page_renders_under_the_csp_without_inline_code(client, configure):
    response = client.get("/admin/login/")
    assert response.status_code == HTTPStatus.OK
    assert_strict_headers(response)
    assert INLINE_CODE.findall(response.content.decode()) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/auth/group/", "/admin/auth/group/add/", "/admin/password_change/"]
)
def test_admin_pages_render_under_the_csp_without_inline_code(local_admin, path):
    response = local_admin.get(path)
    assert response.status_code == HTTPStatus.OK
    assert_strict_headers(response)
    page = response.content.decode()
    assert INLINE_CODE.findall(page) == []
    # Their scripts and styles come from our own static files ('self').
    for url in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page):
        assert url.startswith("/"), url
        assert not url.startswith("//"), url


@pytest.mark.django_db
def test_an_admin_form_posts_under_the_csp(local_admin):
    response = local_admin.post("/admin/auth/group/add/", {"name": "csp-proof"})
    assert response.status_code == HTTPStatus.FOUND
    from django.contrib.auth.models import Group

    assert Group.objects.filter(name="csp-proof").exists()


# --- the dev issuer's persona picker --------------------------------------------------------


@pytest.mark.django_db
def test_the_persona_picker_allows_its_form_to_reach_a_registered_origin(client, configure):
    from tests.dev_issuer.test_sign_in import authorize_url

    configure(
        ENV="dev",
        DEV_ISSUER=True,
        ENTRA_TENANT_ID=DEV_TENANT_ID,
        ENTRA_API_CLIENT_ID=DEV_API_CLIENT_ID,
        ENTRA_API_APP_ID_URI=f"api://{DEV_API_CLIENT_ID}",
        ENTRA_SPA_CLIENT_ID=DEV_SPA_CLIENT_ID,
        DEV_ISSUER_REDIRECT_URIS=("http://localhost:5173/",),
    )
    same_origin = client.get(authorize_url())
    assert same_origin.status_code == HTTPStatus.OK
    assert_strict_headers(same_origin)
    assert directives(same_origin)["form-action"] == ["'self'", "http://testserver"]
    vite = client.get(authorize_url(redirect_uri="http://localhost:5173/"))
    assert directives(vite)["form-action"] == ["'self'", "http://localhost:5173"]
    assert INLINE_CODE.findall(vite.content.decode()) == []
    assert TENANT not in vite.content.decode()
