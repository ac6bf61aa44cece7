"""``/config.json``: what the SPA is told, built per request from settings; ETag and 304;
the published JSON Schema; and the checks that keep secrets and bad values out of it."""

from __future__ import annotations

import json
import os
import runpy
from http import HTTPStatus
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings as django_settings
from django.core import checks

from apps.core.conf import portico_settings
from frontend_config import checks as frontend_checks
from tests.conftest import API_CLIENT_ID, SPA_CLIENT_ID, TENANT
from tests.frontend_config.conftest import AUTHORITY

SCHEMA = json.loads(Path(frontend_checks.__file__).with_name("config.schema.json").read_text())
GOOD_SECRET_KEY = "k" * 60


def test_config_json_publishes_the_settings(client, configure):
    configure(BUILD_VERSION="1.4.0", BUILD_COMMIT="0123abc")
    response = client.get("/config.json")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "environment": "prod",
        "apiBaseUrl": "/api",
        "basePath": "/",
        "auth": {
            "clientId": SPA_CLIENT_ID,
            "authority": f"{AUTHORITY}/{TENANT}",
            "tenantId": TENANT,
            "redirectUri": "http://testserver/",
            "postLogoutRedirectUri": "http://testserver/",
            "scopes": [f"api://{API_CLIENT_ID}/access_as_user"],
            "knownAuthorities": ["login.microsoftonline.com"],
        },
        "features": {"devIssuer": False},
        "build": {"version": "1.4.0", "commit": "0123abc"},
    }


def test_config_json_follows_the_environment_variables(client, settings, monkeypatch):
    """From the variables an operator sets, through config/settings.py, to the document."""
    environ = {
        "PORTICO_ENV": "uat",
        "DJANGO_SECRET_KEY": GOOD_SECRET_KEY,
        "ENTRA_TENANT_ID": TENANT,
        "ENTRA_API_CLIENT_ID": API_CLIENT_ID,
        "ENTRA_SPA_CLIENT_ID": SPA_CLIENT_ID,
        "ENTRA_SPA_SCOPES": f"api://{API_CLIENT_ID}/access_as_user,api://{API_CLIENT_ID}/x",
        "ENTRA_AUTHORITY_HOST": "https://login.microsoftonline.us/",
        "ENTRA_SPA_REDIRECT_URI": "https://app-uat.example.com/ui/signed-in",
        "PORTICO_UI_BASE_PATH": "ui",
        "PORTICO_BUILD_VERSION": "2.0.1",
        "PORTICO_BUILD_COMMIT": "feedface",
    }
    monkeypatch.setattr(os, "environ", environ)
    settings.PORTICO = runpy.run_path(
        str(Path(django_settings.BASE_DIR) / "config" / "settings.py")
    )["PORTICO"]
    document = client.get("/config.json", secure=True, HTTP_HOST="localhost").json()
    assert document["environment"] == "uat"
    assert document["basePath"] == "/ui/"
    assert document["build"] == {"version": "2.0.1", "commit": "feedface"}
    auth = document["auth"]
    assert auth["authority"] == f"https://login.microsoftonline.us/{TENANT}"
    assert auth["knownAuthorities"] == ["login.microsoftonline.us"]
    assert auth["clientId"] == SPA_CLIENT_ID
    assert auth["scopes"] == [f"api://{API_CLIENT_ID}/access_as_user", f"api://{API_CLIENT_ID}/x"]
    assert auth["redirectUri"] == "https://app-uat.example.com/ui/signed-in"  # configured
    assert auth["postLogoutRedirectUri"] == "https://localhost/ui/"  # derived


def test_redirect_uris_follow_the_requests_origin_and_base_path(client, configure):
    configure(UI_BASE_PATH="/ui/")
    auth = client.get("/config.json", secure=True, HTTP_HOST="127.0.0.1:8443").json()["auth"]
    assert auth["redirectUri"] == "https://127.0.0.1:8443/ui/"
    assert auth["postLogoutRedirectUri"] == "https://127.0.0.1:8443/ui/"
    # Each origin its own, though the configuration is kept per process.
    auth = client.get("/config.json", HTTP_HOST="localhost:8000").json()["auth"]
    assert auth["redirectUri"] == "http://localhost:8000/ui/"


@pytest.mark.parametrize(
    ("env", "dev_issuer", "expected"),
    [("dev", True, True), ("dev", False, False), ("uat", True, False), ("prod", True, False)],
)
def test_the_dev_issuer_feature_is_on_only_in_dev(client, configure, env, dev_issuer, expected):
    configure(ENV=env, DEV_ISSUER=dev_issuer)
    assert client.get("/config.json").json()["features"] == {"devIssuer": expected}


def test_the_document_validates_against_the_published_schema(client, configure):
    for env in ("dev", "uat", "prod"):
        configure(ENV=env)
        jsonschema.validate(client.get("/config.json").json(), SCHEMA)


def test_the_schema_is_published_and_rejects_unknown_keys(client, configure):
    response = client.get("/config.schema.json")
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "application/schema+json"
    assert response.json() == SCHEMA
    document = client.get("/config.json").json()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "clientSecret": "x"}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**document, "auth": {**document["auth"], "secret": "x"}}, SCHEMA)


def test_the_schema_in_docs_is_the_one_served():
    docs = Path(django_settings.BASE_DIR) / "docs" / "config-schema.json"
    assert json.loads(docs.read_text()) == SCHEMA


# --- caching --------------------------------------------------------------------------------


def test_config_json_is_revalidated_with_an_etag(client, configure):
    first = client.get("/config.json")
    assert first["Cache-Control"] == "no-cache"
    etag = first["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')

    again = client.get("/config.json", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == HTTPStatus.NOT_MODIFIED
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "no-cache"


def test_a_changed_configuration_gets_a_new_etag_and_a_full_answer(client, configure):
    etag = client.get("/config.json")["ETag"]
    configure(BUILD_VERSION="next")
    response = client.get("/config.json", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == HTTPStatus.OK
    assert response["ETag"] != etag
    assert response.json()["build"]["version"] == "next"


def test_config_json_answers_head_but_not_post(client, configure):
    assert client.head("/config.json").status_code == HTTPStatus.OK
    assert client.post("/config.json").status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --- no secrets -----------------------------------------------------------------------------


def test_no_secret_reaches_config_json(client, configure, settings):
    settings.SECRET_KEY = "django-secret-" + "s" * 50
    configure(
        ENTRA_CLIENT_SECRET="entra-client-secret-value",
        DEV_WEB_CLIENT_SECRET="dev-web-client-secret-value",
    )
    body = client.get("/config.json").content.decode()
    for secret in (settings.SECRET_KEY, "entra-client-secret-value", "dev-web-client-secret"):
        assert secret not in body
    assert "secret" not in body.lower()
    assert frontend_checks.check_published_values() == []


@pytest.mark.parametrize(
    ("key", "value", "variable"),
    [
        ("ENTRA_SPA_CLIENT_ID", "entra-client-secret-value", "ENTRA_SPA_CLIENT_ID"),
        ("BUILD_VERSION", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "PORTICO_BUILD_VERSION"),
        ("BUILD_COMMIT", "-----BEGIN PRIVATE KEY-----", "PORTICO_BUILD_COMMIT"),
        ("ENTRA_SPA_SCOPES", ("api://x/a", "django-secret-key-value-123"), "ENTRA_SPA_SCOPES"),
        (
            "ENTRA_SPA_REDIRECT_URI",
            "https://user:hunter22@app.example.com/",
            "ENTRA_SPA_REDIRECT_URI",
        ),
    ],
    ids=["client-secret", "jwt", "pem", "secret-key", "password-in-url"],
)
def test_a_secret_looking_published_value_is_critical(configure, settings, key, value, variable):
    settings.SECRET_KEY = "django-secret-key-value-123"
    configure(**{key: value, "ENTRA_CLIENT_SECRET": "entra-client-secret-value"})
    (message,) = frontend_checks.check_published_values()
    assert message.id == "frontend_config.C001"
    assert message.level == checks.CRITICAL
    assert variable in message.msg
    assert variable in message.hint
    assert "hunter22" not in f"{message.msg} {message.hint}"  # the check never repeats it


# --- other checks ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["uat", "prod"])
def test_a_missing_spa_client_id_outside_dev_names_the_variable(configure, env):
    configure(ENV=env, ENTRA_SPA_CLIENT_ID="")
    (error,) = frontend_checks.check_spa_client()
    assert error.id == "frontend_config.E001"
    assert error.level == checks.ERROR
    assert "ENTRA_SPA_CLIENT_ID" in error.msg
    assert "ENTRA_SPA_CLIENT_ID" in error.hint


def test_a_missing_spa_client_id_is_fine_in_dev(configure):
    configure(ENV="dev", ENTRA_SPA_CLIENT_ID="")
    assert frontend_checks.check_spa_client() == []


def test_a_spa_client_id_that_is_not_a_guid_is_an_error(configure):
    configure(ENTRA_SPA_CLIENT_ID="my-spa")
    (error,) = frontend_checks.check_spa_client()
    assert "'my-spa'" in error.msg


@pytest.mark.parametrize("value", ["/", "", "ui", "/ui", "/ui/", "/apps/portico/"])
def test_good_base_paths_pass(configure, value):
    configure(UI_BASE_PATH=value)
    assert frontend_checks.check_base_path() == []


@pytest.mark.parametrize("value", ["/api/", "/admin/ui/", "/static/", "/u i/", "/ui?x=1", "/é/"])
def test_bad_base_paths_name_the_variable(configure, value):
    configure(UI_BASE_PATH=value)
    (error,) = frontend_checks.check_base_path()
    assert error.id == "frontend_config.E002"
    assert "PORTICO_UI_BASE_PATH" in error.msg


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("prod", "http://app.example.com/"),
        ("prod", "/relative"),
        ("uat", "https://app.example.com/#x"),
        ("dev", "localhost:5173"),
    ],
)
def test_bad_redirect_uris_name_the_variable(configure, env, value):
    configure(ENV=env, ENTRA_SPA_POST_LOGOUT_REDIRECT_URI=value)
    (error,) = frontend_checks.check_redirect_uris()
    assert error.id == "frontend_config.E003"
    assert "ENTRA_SPA_POST_LOGOUT_REDIRECT_URI" in error.msg


def test_an_http_redirect_uri_is_fine_in_dev(configure):
    configure(ENV="dev", ENTRA_SPA_REDIRECT_URI="http://localhost:5173/")
    assert frontend_checks.check_redirect_uris() == []


def test_the_checks_are_registered(configure):
    configure(ENTRA_SPA_CLIENT_ID="", UI_BASE_PATH="/api/", BUILD_COMMIT="-----BEGIN KEY-----")
    found = {message.id for message in checks.run_checks()}
    assert {"frontend_config.C001", "frontend_config.E001", "frontend_config.E002"} <= found
    assert portico_settings().env == "prod"
