"""The dev issuer's sign-in flow: persona picker, PKCE, codes, tokens, refresh and logout.

The SPA (MSAL.js) and server-side msal drive these endpoints in real use; here the test
client plays the browser and the relying party, and the tokens go through the real API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from apps.dev_issuer import grants
from apps.dev_issuer.personas import persona
from config.env import DEV_API_CLIENT_ID, DEV_SPA_CLIENT_ID, DEV_TENANT_ID, DEV_WEB_CLIENT_ID
from tests.dev_issuer.conftest import AUTHORITY, WEB_CLIENT_SECRET

pytestmark = pytest.mark.django_db

OAUTH2 = f"/dev-issuer/{DEV_TENANT_ID}/oauth2/v2.0"
REDIRECT_URI = "http://testserver/"
API_SCOPE = f"api://{DEV_API_CLIENT_ID}/access_as_user"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


VERIFIER, CHALLENGE = pkce_pair()


def authorize_url(**overrides: Any) -> str:
    params = {
        "client_id": DEV_SPA_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "scope": f"openid profile offline_access {API_SCOPE}",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "response_mode": "fragment",
    }
    params.update(overrides)
    return f"{OAUTH2}/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def redirect_params(response: Any) -> dict[str, str]:
    """The parameters a redirect hands to the client, from its query or its fragment."""
    assert response.status_code == HTTPStatus.FOUND, response.content
    parts = urlsplit(response["Location"])
    return {k: v[0] for k, v in parse_qs(parts.fragment or parts.query).items()}


def sign_in(client: Client, who: str = "editor", **overrides: Any) -> dict[str, str]:
    return redirect_params(client.post(authorize_url(**overrides), {"persona": who}))


def redeem(client: Client, code: str, **overrides: Any) -> Any:
    form = {
        "client_id": DEV_SPA_CLIENT_ID,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    form.update(overrides)
    return client.post(f"{OAUTH2}/token", {k: v for k, v in form.items() if v is not None})


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def assert_grant_error(response: Any, error: str) -> None:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response["Cache-Control"] == "no-store"


# --- discovery ------------------------------------------------------------------------------


def test_discovery_publishes_the_sign_in_endpoints(client, dev_issuer):
    document = client.get(
        f"/dev-issuer/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration"
    ).json()
    base = f"{AUTHORITY}/{DEV_TENANT_ID}/oauth2/v2.0"
    assert document["authorization_endpoint"] == f"{base}/authorize"
    assert document["token_endpoint"] == f"{base}/token"
    assert document["end_session_endpoint"] == f"{base}/logout"
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["response_types_supported"] == ["code"]


# --- the persona picker ---------------------------------------------------------------------


def test_the_picker_offers_every_persona_in_a_form_without_script(client, dev_issuer):
    response = client.get(authorize_url())
    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    for name in ("Ada Admin", "Eddie Editor", "Rita Reader", "Nora Noroles"):
        assert name in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert "<script" not in page  # works under a CSP without script-src
    assert " style=" not in page  # no inline style either
    assert '<link rel="icon" href="data:,">' in page  # no /favicon.ico 404 in the console
    assert "no-cache" in response["Cache-Control"]


def test_the_picker_refuses_a_post_without_the_csrf_token(dev_issuer):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(authorize_url(), {"persona": "admin"})
    assert response.status_code == HTTPStatus.FORBIDDEN


def test_picking_a_persona_redirects_with_a_code_and_the_state_echoed(client, dev_issuer):
    params = sign_in(client)
    assert params["state"] == "state-123"
    assert len(params["code"]) >= 32
    assert set(params) == {"code", "state"}


def test_the_response_mode_decides_between_query_and_fragment(client, dev_issuer):
    fragment = client.post(authorize_url(), {"persona": "reader"})["Location"]
    query = client.post(authorize_url(response_mode="query"), {"persona": "reader"})["Location"]
    assert fragment.startswith(f"{REDIRECT_URI}#code=")
    assert query.startswith(f"{REDIRECT_URI}?code=")


def test_an_unknown_persona_is_refused(client, dev_issuer):
    response = client.post(authorize_url(), {"persona": "root"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not response.has_header("Location")


def test_cancel_returns_access_denied_with_the_state(client, dev_issuer):
    params = redirect_params(client.post(authorize_url(), {"cancel": "1"}))
    assert params["error"] == "access_denied"
    assert params["state"] == "state-123"
    assert "code" not in params


def test_silent_sign_in_is_login_required(client, dev_issuer):
    """prompt=none (MSAL's hidden iframe) cannot succeed: the issuer keeps no session."""
    params = redirect_params(client.get(authorize_url(prompt="none")))
    assert params["error"] == "login_required"
    assert params["state"] == "state-123"


# --- authorization request errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/",  # another origin
        "http://testserver.evil.example/",  # a look-alike host
        "https://testserver/",  # another scheme is another origin
        "/relative",
        "javascript:alert(1)",
        "http://testserver/#fragment",
        "http://user@testserver/",
        "",
    ],
)
def test_a_bad_redirect_uri_is_shown_to_the_user_never_redirected_to(
    client, dev_issuer, redirect_uri
):
    url = authorize_url(redirect_uri=redirect_uri)
    for response in (client.get(url), client.post(url, {"persona": "admin"})):
        assert response.status_code == HTTPStatus.BAD_REQUEST
        assert not response.has_header("Location")
        assert "redirect_uri" in response.content.decode()


def test_a_registered_redirect_uri_on_another_origin_is_accepted(client, dev_issuer, settings):
    vite = "http://localhost:5173/"
    settings.PORTICO = {**settings.PORTICO, "DEV_ISSUER_REDIRECT_URIS": (vite,)}
    response = client.post(authorize_url(redirect_uri=vite), {"persona": "admin"})
    assert response["Location"].startswith(f"{vite}#code=")
    code = redirect_params(response)["code"]
    assert redeem(client, code, redirect_uri=vite).status_code == HTTPStatus.OK


def test_the_developer_tools_client_is_a_public_client_too(client, dev_issuer, settings):
    swagger = "de7e1000-0000-4000-8000-00000000d001"
    settings.PORTICO = {**settings.PORTICO, "ENTRA_DEVTOOLS_CLIENT_ID": swagger}
    code = sign_in(client, client_id=swagger)["code"]
    response = redeem(client, code, client_id=swagger)
    assert response.status_code == HTTPStatus.OK
    assert claims_of(response.json()["access_token"])["azp"] == swagger
    unprotected = client.get(authorize_url(client_id=swagger, code_challenge=None))
    assert redirect_params(unprotected)["error"] == "invalid_request"  # PKCE required


def test_an_unknown_client_is_shown_to_the_user(client, dev_issuer):
    response = client.get(authorize_url(client_id=DEV_API_CLIENT_ID))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not response.has_header("Location")
    assert "unauthorized_client" in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:-1] + "="}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": "code id_token"}, "unsupported_response_type"),
        ({"scope": "openid https://graph.microsoft.com/User.Read"}, "invalid_scope"),
        ({"scope": f"openid api://{DEV_SPA_CLIENT_ID}/access_as_user"}, "invalid_scope"),
    ],
    ids=[
        "no-pkce",
        "plain-pkce",
        "no-method",
        "short-challenge",
        "padded-challenge",
        "implicit",
        "hybrid",
        "graph-scope",
        "other-api-scope",
    ],
)
def test_bad_authorization_requests_go_back_to_the_client_with_an_error(
    client, dev_issuer, overrides, error
):
    for response in (
        client.get(authorize_url(**overrides)),
        client.post(authorize_url(**overrides), {"persona": "admin"}),
    ):
        params = redirect_params(response)
        assert params["error"] == error
        assert params["state"] == "state-123"
        assert "code" not in params


def test_an_unknown_response_mode_is_shown_to_the_user(client, dev_issuer):
    response = client.get(authorize_url(response_mode="form_post"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not response.has_header("Location")


# --- the token endpoint: authorization_code -------------------------------------------------


def test_the_code_buys_tokens_for_the_chosen_persona(client, dev_issuer):
    response = redeem(client, sign_in(client, "editor")["code"])
    assert response.status_code == HTTPStatus.OK
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == API_SCOPE
    assert body["expires_in"] == grants.ACCESS_TOKEN_SECONDS
    assert body["refresh_token"]
    editor = persona("editor")
    assert json.loads(base64.urlsafe_b64decode(body["client_info"] + "==")) == {
        "uid": editor.oid,
        "utid": DEV_TENANT_ID,
    }

    access = claims_of(body["access_token"])
    assert (access["aud"], access["azp"], access["scp"]) == (
        DEV_API_CLIENT_ID,
        DEV_SPA_CLIENT_ID,
        "access_as_user",
    )
    me = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.status_code == HTTPStatus.OK
    assert (me.json()["oid"], me.json()["roles"]) == (editor.oid, ["Portico.Editor"])


def test_the_id_token_carries_the_nonce_and_names_the_client(client, dev_issuer):
    body = redeem(client, sign_in(client, "reader", nonce="n-0S6_WzA2Mj")["code"]).json()
    id_token = claims_of(body["id_token"])
    assert id_token["nonce"] == "n-0S6_WzA2Mj"
    assert id_token["aud"] == DEV_SPA_CLIENT_ID
    assert id_token["iss"] == f"{AUTHORITY}/{DEV_TENANT_ID}/v2.0"
    assert id_token["tid"] == DEV_TENANT_ID
    assert (id_token["name"], id_token["preferred_username"]) == (
        "Rita Reader",
        "reader@dev.portico.invalid",
    )
    assert id_token["oid"] == persona("reader").oid


def test_without_openid_and_offline_access_there_is_no_id_token_nor_refresh_token(
    client, dev_issuer
):
    body = redeem(client, sign_in(client, scope=API_SCOPE)["code"]).json()
    assert "id_token" not in body
    assert "refresh_token" not in body
    assert body["access_token"]


@pytest.mark.parametrize(
    "verifier",
    [
        pkce_pair()[0],  # another well-formed verifier
        VERIFIER[:-1],  # one character short
        VERIFIER + "!",  # a character RFC 7636 does not allow
        "",
        None,
    ],
    ids=["other", "truncated", "bad-character", "empty", "missing"],
)
def test_a_wrong_code_verifier_is_invalid_grant(client, dev_issuer, verifier):
    response = redeem(client, sign_in(client)["code"], code_verifier=verifier)
    assert_grant_error(response, "invalid_grant")
    assert "access_token" not in response.json()


def test_a_code_is_single_use(client, dev_issuer):
    code = sign_in(client)["code"]
    assert redeem(client, code).status_code == HTTPStatus.OK
    assert_grant_error(redeem(client, code), "invalid_grant")


def test_a_failed_redemption_burns_the_code(client, dev_issuer):
    """Guessing verifiers against an intercepted code gets one try."""
    code = sign_in(client)["code"]
    assert_grant_error(redeem(client, code, code_verifier=pkce_pair()[0]), "invalid_grant")
    assert_grant_error(redeem(client, code), "invalid_grant")


def test_an_expired_code_is_invalid_grant(client, dev_issuer, monkeypatch):
    monkeypatch.setattr(grants, "CODE_SECONDS", 0)  # Django caches drop a 0-second entry
    assert_grant_error(redeem(client, sign_in(client)["code"]), "invalid_grant")


def test_codes_are_stored_under_a_hash_never_verbatim(client, dev_issuer):
    code = sign_in(client)["code"]
    assert grants.cache.get(f"dev_issuer:code:{code}") is None
    assert grants.code_redeem(code) is not None


@pytest.mark.parametrize(
    "overrides",
    [{"redirect_uri": "http://testserver/other"}, {"redirect_uri": None}],
    ids=["other-redirect-uri", "no-redirect-uri"],
)
def test_the_code_is_bound_to_its_redirect_uri(client, dev_issuer, overrides):
    assert_grant_error(redeem(client, sign_in(client)["code"], **overrides), "invalid_grant")


def test_the_code_is_bound_to_its_client(client, dev_issuer):
    code = sign_in(client)["code"]
    response = redeem(client, code, client_id=DEV_WEB_CLIENT_ID, client_secret=WEB_CLIENT_SECRET)
    assert_grant_error(response, "invalid_grant")


def test_an_unknown_code_is_invalid_grant(client, dev_issuer):
    assert_grant_error(redeem(client, "made-up"), "invalid_grant")


def test_an_unsupported_grant_type_is_refused(client, dev_issuer):
    response = redeem(client, "x", grant_type="password")
    assert_grant_error(response, "unsupported_grant_type")


def test_the_token_endpoint_takes_post_only(client, dev_issuer):
    assert client.get(f"{OAUTH2}/token").status_code == HTTPStatus.METHOD_NOT_ALLOWED


# --- refresh tokens -------------------------------------------------------------------------


def test_a_refresh_token_buys_a_new_access_token_for_the_same_persona(client, dev_issuer):
    first = redeem(client, sign_in(client, "admin")["code"]).json()
    response = client.post(
        f"{OAUTH2}/token",
        {
            "client_id": DEV_SPA_CLIENT_ID,
            "grant_type": "refresh_token",
            "refresh_token": first["refresh_token"],
            "scope": f"openid offline_access {API_SCOPE}",
        },
    )
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert claims_of(body["access_token"])["oid"] == persona("admin").oid
    assert "nonce" not in claims_of(body["id_token"])  # a nonce belongs to one sign-in
    assert body["refresh_token"] != first["refresh_token"]
    assert 0 < body["refresh_token_expires_in"] <= grants.REFRESH_TOKEN_SECONDS


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"refresh_token": "made-up"}, "invalid_grant"),
        ({"client_id": DEV_WEB_CLIENT_ID, "client_secret": WEB_CLIENT_SECRET}, "invalid_grant"),
        ({"scope": "https://graph.microsoft.com/User.Read"}, "invalid_scope"),
    ],
    ids=["unknown", "another-client", "foreign-scope"],
)
def test_a_refresh_token_is_bound_to_its_client_and_the_api(client, dev_issuer, form, error):
    first = redeem(client, sign_in(client)["code"]).json()
    request = {
        "client_id": DEV_SPA_CLIENT_ID,
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        **form,
    }
    assert_grant_error(client.post(f"{OAUTH2}/token", request), error)


# --- the confidential web client ------------------------------------------------------------


def _web_sign_in(client: Client) -> str:
    return sign_in(
        client,
        client_id=DEV_WEB_CLIENT_ID,
        response_mode="query",
        code_challenge=None,
        code_challenge_method=None,
    )["code"]


def redeem_as_web_client(client: Client, code: str) -> Any:
    """The code redeemed by the web client with its secret in the body, without PKCE."""
    return redeem(
        client,
        code,
        client_id=DEV_WEB_CLIENT_ID,
        client_secret=WEB_CLIENT_SECRET,
        code_verifier=None,
    )


def test_the_web_client_authenticates_with_its_secret_in_the_body(client, dev_issuer):
    response = redeem_as_web_client(client, _web_sign_in(client))
    assert response.status_code == HTTPStatus.OK
    assert claims_of(response.json()["access_token"])["azp"] == DEV_WEB_CLIENT_ID
    assert claims_of(response.json()["id_token"])["aud"] == DEV_WEB_CLIENT_ID


def test_the_web_client_authenticates_with_http_basic(client, dev_issuer):
    code = _web_sign_in(client)
    basic = base64.b64encode(f"{DEV_WEB_CLIENT_ID}:{WEB_CLIENT_SECRET}".encode()).decode()
    response = client.post(
        f"{OAUTH2}/token",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI},
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    assert response.status_code == HTTPStatus.OK


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        (DEV_WEB_CLIENT_ID, "wrong"),
        (DEV_WEB_CLIENT_ID, None),
        (DEV_SPA_CLIENT_ID, WEB_CLIENT_SECRET),  # a public client has no secret to show
        ("00000000-0000-4000-8000-000000000000", WEB_CLIENT_SECRET),
    ],
    ids=["wrong-secret", "no-secret", "public-with-secret", "unknown-client"],
)
def test_client_authentication_failures_are_invalid_client(client, dev_issuer, client_id, secret):
    response = redeem(
        client, _web_sign_in(client), client_id=client_id, client_secret=secret, code_verifier=None
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["error"] == "invalid_client"


def test_bad_basic_credentials_are_invalid_client_with_a_challenge(client, dev_issuer):
    basic = base64.b64encode(f"{DEV_WEB_CLIENT_ID}:wrong".encode()).decode()
    for header in (f"Basic {basic}", "Basic !!not-base64!!"):
        response = client.post(
            f"{OAUTH2}/token", {"grant_type": "authorization_code"}, HTTP_AUTHORIZATION=header
        )
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response["WWW-Authenticate"] == 'Basic realm="dev-issuer"'


def test_the_web_client_is_refused_when_no_secret_is_configured(client, dev_issuer, settings):
    settings.PORTICO = {**settings.PORTICO, "DEV_WEB_CLIENT_SECRET": ""}
    response = redeem(
        client,
        _web_sign_in(client),
        client_id=DEV_WEB_CLIENT_ID,
        client_secret="",
        code_verifier=None,
    )
    assert response.status_code == HTTPStatus.UNAUTHORIZED


def test_the_web_client_with_pkce_must_send_the_verifier(client, dev_issuer):
    code = sign_in(client, client_id=DEV_WEB_CLIENT_ID)["code"]
    assert_grant_error(redeem_as_web_client(client, code), "invalid_grant")


# --- logout ---------------------------------------------------------------------------------


def test_logout_returns_to_a_same_origin_uri_with_the_state(client, dev_issuer):
    query = urlencode({"post_logout_redirect_uri": "http://testserver/bye", "state": "s1"})
    response = client.get(f"{OAUTH2}/logout?{query}")
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "http://testserver/bye?state=s1"


@pytest.mark.parametrize("uri", ["https://evil.example/", "", "//evil.example/"])
def test_logout_never_redirects_elsewhere(client, dev_issuer, uri):
    response = client.get(f"{OAUTH2}/logout?" + urlencode({"post_logout_redirect_uri": uri}))
    assert response.status_code == HTTPStatus.OK
    assert "signed out" in response.content.decode()


# --- off outside dev ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes", [{"DEV_ISSUER": False}, {"ENV": "uat"}, {"ENV": "prod"}], ids=str
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "authorize"),
        ("post", "authorize"),
        ("post", "token"),
        ("get", "logout"),
        ("get", "discovery"),
    ],
)
def test_every_endpoint_is_404_unless_the_dev_issuer_is_on_in_dev(
    client, dev_issuer, settings, changes, method, path
):
    code = sign_in(client)["code"]
    settings.PORTICO = {**settings.PORTICO, **changes}
    url = {
        "authorize": authorize_url(),
        "discovery": f"/dev-issuer/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration",
    }.get(path, f"{OAUTH2}/{path}")
    if method == "get":
        response = client.get(url)
    else:
        response = client.post(url, {"persona": "admin", "code": code})
    assert response.status_code == HTTPStatus.NOT_FOUND


def test_pkce_matches_rfc_7636_appendix_b():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert grants.pkce_verified(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
    assert not grants.pkce_verified(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN")
