"""A pasted token kept in the session: validated, re-validated per request, dropped when it
expires, CSRF on unsafe methods, cleared on sign-out; Bearer clients are unaffected."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path

import pytest
from django.urls import reverse

from apps.entra_auth.models import User
from apps.entra_auth.runtime import token_validator
from apps.entra_auth.validation import TokenValidator
from apps.signin.session_tokens import SESSION_KEY
from tests.conftest import BARE_CHALLENGE, USER_OID, bearer
from tests.signin.conftest import csrf_client, csrf_token_of, paste

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
HTML = {"HTTP_ACCEPT": "text/html"}


def test_a_pasted_token_is_kept_server_side_and_signs_in_the_api(client, token_factory):
    token = token_factory(claims={"roles": ["Portico.Reader"]})
    response = paste(client, token, next="/api/me")

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/api/me"
    assert client.session[SESSION_KEY] == token
    assert all(token not in morsel.value for morsel in client.cookies.values())
    me = client.get("/api/me", **JSON)
    assert me.status_code == HTTPStatus.OK
    assert me.json()["name"] == "Test User"
    assert me.json()["roles"] == ["Portico.Reader"]


def test_a_refused_token_is_not_kept_and_the_page_says_why(client, token_factory):
    token = token_factory(claims={"aud": "api://someone-else"})
    response = paste(client, token)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    page = response.content.decode()
    assert "The token audience is not this API (bad_audience)." in page
    assert token not in page
    assert SESSION_KEY not in client.session
    assert client.get("/api/me", **JSON).status_code == HTTPStatus.UNAUTHORIZED


def test_the_paste_page_refuses_a_post_without_the_csrf_token(token_factory):
    browser = csrf_client()
    assert paste(browser, token_factory()).status_code == HTTPStatus.FORBIDDEN
    assert SESSION_KEY not in browser.session


def test_pasting_starts_a_new_session(client, token_factory):
    client.get(reverse("signin:paste-token"))
    client.session.save()
    before = client.session.session_key
    paste(client, token_factory())
    assert client.session.session_key != before


def test_unsafe_methods_need_the_csrf_token_with_a_session_token(token_factory):
    browser = csrf_client()
    token = csrf_token_of(browser)
    paste(browser, token_factory(), csrfmiddlewaretoken=token)

    refused = browser.post("/api/me", **JSON)
    assert refused.status_code == HTTPStatus.FORBIDDEN
    assert "CSRF" in refused.json()["detail"]
    fresh = browser.cookies["csrftoken"].value  # rotated at sign-in
    allowed = browser.post("/api/me", HTTP_X_CSRFTOKEN=fresh, **JSON)
    assert allowed.status_code == HTTPStatus.METHOD_NOT_ALLOWED  # authenticated, then routed
    assert browser.get("/api/me", **JSON).status_code == HTTPStatus.OK  # safe: no token needed


def test_bearer_clients_need_no_csrf_even_with_a_session_cookie(token_factory):
    browser = csrf_client()
    paste(browser, token_factory(), csrfmiddlewaretoken=csrf_token_of(browser))
    response = browser.post("/api/me", **bearer(token_factory()), **JSON)
    assert response.status_code == HTTPStatus.METHOD_NOT_ALLOWED


def test_a_bad_bearer_token_is_401_even_beside_a_good_session(client, token_factory):
    paste(client, token_factory())
    response = client.get("/api/me", **bearer(token_factory(key="k2")), **JSON)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["reason"] == "unknown_key"
    assert response["WWW-Authenticate"].startswith(BARE_CHALLENGE)


def test_no_credentials_at_all_is_still_401_with_the_bearer_challenge(client, entra):
    response = client.get("/api/me", **JSON)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == BARE_CHALLENGE


def test_a_warm_session_request_reads_the_session_and_validates_once_from_the_cache(
    client, token_factory, monkeypatch, django_assert_max_num_queries
):
    paste(client, token_factory())
    assert client.get("/api/me", **JSON).status_code == HTTPStatus.OK
    validated, verified = [], []
    validate, uncached = TokenValidator.validate, TokenValidator._validate_uncached
    monkeypatch.setattr(
        TokenValidator, "validate", lambda self, t: validated.append(t) or validate(self, t)
    )
    monkeypatch.setattr(
        TokenValidator,
        "_validate_uncached",
        lambda self, *a: verified.append(a) or uncached(self, *a),
    )
    # At most the session row (none when sessions are cached_db with Redis, as in CI's first
    # run); user and grant come from in-process caches.
    with django_assert_max_num_queries(1):
        assert client.get("/api/me", **JSON).status_code == HTTPStatus.OK
    assert len(validated) == 1  # one validation per request
    assert verified == []  # no signature check again: the bearer path's cache answers


def test_an_expired_session_token_is_dropped_and_the_request_is_401(client, token_factory):
    now = [time.time()]
    token_validator()._clock = lambda: now[0]  # the validator's injected clock, frozen
    paste(client, token_factory(claims={"exp": int(now[0]) + 600}))
    assert client.get("/api/me", **JSON).status_code == HTTPStatus.OK

    now[0] += 600 + 61  # past exp and the 60 s leeway
    response = client.get("/api/me", **JSON)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == BARE_CHALLENGE
    assert SESSION_KEY not in client.session


def test_a_disabled_principal_loses_the_session_token(client, token_factory):
    paste(client, token_factory())
    assert client.get("/api/me", **JSON).status_code == HTTPStatus.OK
    user = User.objects.get(entra_object_id=USER_OID)
    user.is_active = False
    user.save()  # saving evicts the cached user, here and in the shared cache
    assert client.get("/api/me", **JSON).status_code == HTTPStatus.UNAUTHORIZED
    assert SESSION_KEY not in client.session


def test_signing_out_clears_the_token(client, token_factory):
    paste(client, token_factory())
    response = client.post(reverse("signin:logout"), {"next": "/api/health"})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/api/health"
    assert SESSION_KEY not in client.session
    assert client.get("/api/me", **JSON).status_code == HTTPStatus.UNAUTHORIZED


def test_sign_out_is_post_only(client, token_factory):
    paste(client, token_factory())
    assert client.get(reverse("signin:logout")).status_code == HTTPStatus.METHOD_NOT_ALLOWED
    assert SESSION_KEY in client.session


def test_next_never_leaves_the_site(client, token_factory):
    response = paste(client, token_factory(), next="https://evil.example/steal")
    assert response["Location"] == "/api/me"


def test_the_session_cookie_is_httponly_and_samesite_lax(client, token_factory):
    paste(client, token_factory())
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_the_session_cookie_is_secure_outside_dev(tmp_path: Path):
    env = {
        **os.environ,
        "PORTICO_ENV": "uat",
        "DJANGO_SECRET_KEY": "x" * 60,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    code = (
        "from django.conf import settings as s; "
        "print(s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.SESSION_COOKIE_SAMESITE)"
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert out.stdout.split() == ["True", "True", "Lax"]


def test_the_browsable_api_offers_sign_in_then_shows_the_signed_in_user(client, token_factory):
    anonymous = client.get("/api/me", **HTML)
    assert anonymous.status_code == HTTPStatus.UNAUTHORIZED
    assert anonymous["Content-Type"].startswith("text/html")
    page = anonymous.content.decode()
    assert 'id="signin-entra"' in page
    assert 'id="signin-token"' in page

    paste(client, token_factory())
    signed_in = client.get("/api/me", **HTML)
    assert signed_in.status_code == HTTPStatus.OK
    assert 'id="signout"' in signed_in.content.decode()
    assert "Test User" in signed_in.content.decode()


def test_json_stays_the_default_for_api_clients(client, token_factory):
    response = client.get("/api/me", HTTP_ACCEPT="*/*", **bearer(token_factory()))
    assert response["Content-Type"] == "application/json"
