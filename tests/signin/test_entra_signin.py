"""Sign in with Microsoft Entra against the dev issuer: msal's authorization code flow with
PKCE, state and nonce, the dev issuer answered in process; admin access from the mapping."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from apps.rbac import resolution
from apps.rbac.models import MappingRule, SourceKind
from apps.signin import dev_issuer_http
from apps.signin.entra import FLOW_KEY
from apps.signin.session_tokens import SESSION_KEY

AUTHORITY = "https://testserver/dev-issuer"  # msal accepts https authorities only

pytestmark = pytest.mark.django_db


@pytest.fixture
def dev_issuer(dev_issuer: Any, settings: Any) -> Any:
    """The dev issuer of ``tests/dev_issuer``, served over https as ``make run`` serves it."""
    settings.PORTICO = {**settings.PORTICO, "ENTRA_AUTHORITY_HOST": AUTHORITY}
    return dev_issuer


@pytest.fixture
def client() -> Client:
    """A browser on https://testserver (the same origin as the authority)."""
    return HttpsClient()


class HttpsClient(Client):
    def generic(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["secure"] = True
        return super().generic(*args, **kwargs)


JSON = {"HTTP_ACCEPT": "application/json"}
LOCAL_BACKEND = "apps.rbac.backends.LocalAccountsBackend"


def start(client: Client, next_url: str = "/api/me") -> str:
    """Begin a sign-in; the authorize URL the browser is sent to."""
    response = client.get(reverse("signin:start"), {"next": next_url})
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(f"{AUTHORITY}/")
    return response["Location"]


def pick(client: Client, authorize_url: str, persona: str = "editor") -> str:
    """Pick a persona on the dev issuer's page; the callback URL it redirects to."""
    picker = client.get(authorize_url)
    assert picker.status_code == HTTPStatus.OK
    response = client.post(authorize_url, {"persona": persona})
    assert response.status_code == HTTPStatus.FOUND
    return response["Location"]


def sign_in(client: Client, persona: str = "editor", next_url: str = "/api/me") -> Any:
    return client.get(pick(client, start(client, next_url), persona))


def edit_flow(client: Client, **changes: str) -> None:
    session = client.session
    session[FLOW_KEY]["flow"].update(changes)
    session.save()


def test_the_round_trip_signs_in_with_pkce_state_and_nonce(client, dev_issuer, monkeypatch):
    authorize_url = start(client)
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"]
    assert query["nonce"]
    assert query["code_challenge"]
    assert "api://" in query["scope"][0]
    assert "openid" in query["scope"][0]

    calls: list[str] = []
    real_resolve = dev_issuer_http.resolve
    monkeypatch.setattr(
        dev_issuer_http,
        "resolve",
        lambda path, **kw: calls.append(path) or real_resolve(path, **kw),
    )
    response = client.get(pick(client, authorize_url))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/api/me"
    assert any(path.endswith("/oauth2/v2.0/token") for path in calls)  # in process, no socket
    assert FLOW_KEY not in client.session
    me = client.get("/api/me", **JSON)
    assert me.status_code == HTTPStatus.OK
    assert me.json()["name"] == "Eddie Editor"
    assert me.json()["scopes"] == ["access_as_user"]


def test_a_state_mismatch_is_rejected(client, dev_issuer):
    callback = pick(client, start(client))
    response = client.get(callback.replace("state=", "state=forged"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "does not match the sign-in started here" in response.content.decode()
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    ("tampered", "message"),
    [
        pytest.param({"nonce": "a-nonce-never-sent"}, "ID token of this sign-in", id="nonce"),
        pytest.param({"code_verifier": "x" * 43}, "refused the sign-in (invalid_grant)", id="pkce"),
    ],
)
def test_a_nonce_or_pkce_verifier_mismatch_is_rejected(client, dev_issuer, tampered, message):
    callback = pick(client, start(client))
    edit_flow(client, **tampered)
    response = client.get(callback)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode()
    assert SESSION_KEY not in client.session


def test_a_used_code_is_rejected(client, dev_issuer):
    first = pick(client, start(client))
    assert client.get(first)["Location"] == "/api/me"

    replayed = client.get(first)  # the same callback again: its flow is gone
    assert replayed.status_code == HTTPStatus.BAD_REQUEST
    assert "No sign-in is in progress" in replayed.content.decode()

    second = pick(client, start(client))  # a fresh flow (state), with the old code
    old_code = parse_qs(urlsplit(first).query)["code"][0]
    state = parse_qs(urlsplit(second).query)["state"][0]
    response = client.get(reverse("signin:callback"), {"code": old_code, "state": state})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "invalid_grant" in response.content.decode()


def test_cancelling_at_the_issuer_is_a_readable_failure(client, dev_issuer):
    authorize_url = start(client)
    client.get(authorize_url)
    callback = client.post(authorize_url, {"cancel": "1"})["Location"]
    response = client.get(callback)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "access_denied" in response.content.decode()


def test_the_dev_issuer_client_refuses_urls_outside_the_dev_authority(dev_issuer):
    http = dev_issuer_http.DevIssuerHttpClient(AUTHORITY)
    with pytest.raises(ConnectionError):
        http.get("https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration")


def _staff_rule(role: str) -> MappingRule:
    rule = MappingRule.objects.create(
        source_kind=SourceKind.APP_ROLE, source_value=role, label="editors", grants_staff=True
    )
    rule.permissions.add(Permission.objects.get(codename="view_mappingrule"))
    resolution.bump_version()
    return rule


def test_admin_access_is_granted_and_revoked_through_the_mapping(client, dev_issuer):
    rule = _staff_rule("Portico.Editor")
    sign_in(client, "editor", next_url="/admin/")

    assert client.get(reverse("admin:index")).status_code == HTTPStatus.OK
    changelist = client.get(reverse("admin:rbac_mappingrule_changelist"))
    assert changelist.status_code == HTTPStatus.OK

    rule.is_active = False
    rule.save()
    resolution.bump_version()  # what the rule services do on commit
    denied = client.get(reverse("admin:index"))
    assert denied.status_code == HTTPStatus.FOUND
    assert denied["Location"].startswith(reverse("admin:login"))


def test_a_persona_without_a_staff_rule_is_not_let_into_the_admin(client, dev_issuer):
    sign_in(client, "reader", next_url="/admin/")
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.FOUND
    assert client.get("/api/me", **JSON).json()["is_staff"] is False


def test_the_admin_login_page_offers_entra_sign_in(client, dev_issuer):
    page = client.get(reverse("admin:login"), {"next": "/admin/"}).content.decode()
    assert 'id="entra-signin-button"' in page
    assert f"{reverse('signin:start')}?next=/admin/" in page


@pytest.fixture
def local_admin(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-1234567")


def test_password_login_works_while_it_is_on(client, dev_issuer, settings, local_admin):
    settings.PORTICO = {**settings.PORTICO, "ADMIN_PASSWORD_LOGIN": True}
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": "pw-1234567", "next": "/admin/"}
    )
    assert response.status_code == HTTPStatus.FOUND
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.OK


def test_password_login_off_makes_the_password_form_refuse(
    client, dev_issuer, settings, local_admin
):
    settings.PORTICO = {**settings.PORTICO, "ADMIN_PASSWORD_LOGIN": False}
    page = client.get(reverse("admin:login")).content.decode()
    assert 'id="login-form"' not in page
    response = client.post(
        reverse("admin:login"), {"username": "root", "password": "pw-1234567", "next": "/admin/"}
    )
    assert response.status_code == HTTPStatus.OK
    assert "PORTICO_ADMIN_PASSWORD_LOGIN=0" in response.content.decode()
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.FOUND


def test_sign_in_is_unavailable_without_a_credential(client, dev_issuer, settings):
    settings.PORTICO = {**settings.PORTICO, "DEV_WEB_CLIENT_SECRET": "", "DEV_ISSUER": False}
    response = client.get(reverse("signin:start"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "not available right now" in response.content.decode()


def test_a_local_session_is_not_honoured_once_password_login_is_off(
    client, dev_issuer, settings, local_admin
):
    settings.PORTICO = {**settings.PORTICO, "ADMIN_PASSWORD_LOGIN": True}
    client.force_login(local_admin, backend=LOCAL_BACKEND)
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.OK

    settings.PORTICO = {**settings.PORTICO, "ADMIN_PASSWORD_LOGIN": False}
    assert client.get(reverse("admin:index")).status_code == HTTPStatus.FOUND


def test_signing_out_after_an_entra_sign_in_ends_the_entra_session_too(client, dev_issuer):
    sign_in(client)
    response = client.post(reverse("signin:logout"), {"next": "/api/health"})
    assert response.status_code == HTTPStatus.FOUND
    location = urlsplit(response["Location"])
    tenant = dev_issuer_tenant()
    assert f"{location.scheme}://{location.netloc}{location.path}" == (
        f"{AUTHORITY}/{tenant}/oauth2/v2.0/logout"
    )
    assert parse_qs(location.query)["post_logout_redirect_uri"] == ["https://testserver/api/health"]
    assert SESSION_KEY not in client.session
    # The authority sends the browser back where it was going.
    back = client.get(response["Location"])
    assert back["Location"] == "https://testserver/api/health"


def test_signing_out_a_pasted_token_stays_on_the_site(client, dev_issuer, token_factory):
    client.post(reverse("signin:paste-token"), {"token": token_factory()})
    assert SESSION_KEY in client.session
    response = client.post(reverse("signin:logout"), {"next": "/api/health"})
    assert response["Location"] == "/api/health"


def dev_issuer_tenant() -> str:
    from apps.core.conf import portico_settings

    return portico_settings().entra_tenant_id
