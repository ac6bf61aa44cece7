"""The token endpoint's logic: authorization codes, refresh tokens, and the token response.

Codes are single-use and short-lived, bound to the client, redirect URI and PKCE challenge
(RFC 6749 §4.1.3, RFC 7636 §4.6). Refresh tokens live 24 hours from sign-in, like Entra's
for SPAs, and are bound to their client. Both are random handles on a :class:`Grant` kept in
the cache (shared between workers with Redis), stored under a hash of the handle.

Kept apart from the views so that an in-process caller (a test, or a server-side msal
``http_client`` that must not call its own worker over HTTP) gets the same answers.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from django.core.cache import cache

from apps.core.conf import portico_settings
from apps.dev_issuer.clients import Client, client_for
from apps.dev_issuer.minting import mint_id_token, mint_token
from apps.dev_issuer.personas import persona
from apps.dev_issuer.scopes import OIDC_SCOPES, api_scope_names, split_scopes

CODE_SECONDS = 120
ACCESS_TOKEN_SECONDS = 3600
REFRESH_TOKEN_SECONDS = 24 * 3600
# RFC 7636 §4.1: 43 to 128 unreserved characters.
CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


@dataclass(frozen=True)
class Grant:
    """Who signed in, for which client and scopes; what a code or refresh token stands for."""

    persona: str
    client_id: str
    scopes: tuple[str, ...]
    redirect_uri: str = ""
    code_challenge: str = ""
    nonce: str = ""
    expires_at: float = 0.0  # refresh tokens: the end of the sign-in session


class GrantError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(
        self, error: str, description: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def _key(kind: str, handle: str) -> str:
    return f"dev_issuer:{kind}:{hashlib.sha256(handle.encode()).hexdigest()}"


def code_issue(grant: Grant) -> str:
    """A new authorization code for ``grant``."""
    code = secrets.token_urlsafe(32)
    cache.set(_key("code", code), grant, CODE_SECONDS)
    return code


def code_redeem(code: str) -> Grant | None:
    """The code's grant, once: whoever deletes the entry first wins, so a replay gets None."""
    key = _key("code", code)
    grant = cache.get(key)
    if grant is None or not cache.delete(key):
        return None
    return grant


def _refresh_token_issue(grant: Grant) -> str:
    token = secrets.token_urlsafe(48)
    ttl = int(grant.expires_at - time.time())
    if ttl > 0:
        cache.set(_key("refresh", token), grant, ttl)
    return token


def pkce_verified(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6: BASE64URL(SHA256(ASCII(verifier))) == challenge."""
    if not CODE_VERIFIER.fullmatch(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return hmac.compare_digest(computed, challenge)


def _basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise GrantError(
            "invalid_client", "Malformed Basic credentials.", HTTPStatus.UNAUTHORIZED
        ) from None
    return client_id, secret


def authenticate_client(form: Mapping[str, str], authorization: str = "") -> Client:
    """The calling client: client_secret_basic, client_secret_post, or a public client_id."""
    basic = _basic_credentials(authorization)
    client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    client = client_for(client_id)
    if client is None or not client.authenticates(secret):
        raise GrantError("invalid_client", "Client authentication failed.", HTTPStatus.UNAUTHORIZED)
    return client


def _from_code(form: Mapping[str, str], client: Client) -> Grant:
    grant = code_redeem(form.get("code", ""))
    if grant is None:
        raise GrantError("invalid_grant", "The code is unknown, expired or already used.")
    if grant.client_id != client.client_id or grant.redirect_uri != form.get("redirect_uri"):
        raise GrantError("invalid_grant", "The code was issued to another client or redirect_uri.")
    if grant.code_challenge and not pkce_verified(
        form.get("code_verifier", ""), grant.code_challenge
    ):
        raise GrantError("invalid_grant", "code_verifier does not match the code_challenge.")
    return replace(grant, expires_at=time.time() + REFRESH_TOKEN_SECONDS)


def _from_refresh_token(form: Mapping[str, str], client: Client) -> Grant:
    grant = cache.get(_key("refresh", form.get("refresh_token", "")))
    if grant is None or grant.client_id != client.client_id:
        raise GrantError("invalid_grant", "The refresh token is unknown, expired or not yours.")
    requested = split_scopes(form.get("scope", ""))
    if not requested:
        return replace(grant, nonce="")
    if api_scope_names(requested) is None:
        raise GrantError("invalid_scope", "Only scopes of the Portico API are issued.")
    return replace(grant, scopes=requested, nonce="")


def _client_info(oid: str) -> str:
    """What MSAL keys accounts on: ``{uid, utid}`` as base64url JSON, like Entra's."""
    body = json.dumps({"uid": oid, "utid": portico_settings().entra_tenant_id}).encode()
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode()


def token_body(grant: Grant) -> dict[str, Any]:
    """The successful token response for ``grant`` (RFC 6749 §5.1, with Entra's extras)."""
    names = api_scope_names(grant.scopes) or ()
    spa = portico_settings().entra_spa_client_id
    access_token = mint_token(
        user=grant.persona,
        scopes=names,
        expires_in=ACCESS_TOKEN_SECONDS,
        extra_claims=None if grant.client_id == spa else {"azp": grant.client_id},
    )
    resource_scopes = [s for s in grant.scopes if s not in OIDC_SCOPES]
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(resource_scopes or ["openid"]),
        "expires_in": ACCESS_TOKEN_SECONDS,
        "ext_expires_in": ACCESS_TOKEN_SECONDS,
        "access_token": access_token,
        "client_info": _client_info(persona(grant.persona).oid),
    }
    if "openid" in grant.scopes:
        body["id_token"] = mint_id_token(
            user=grant.persona, client_id=grant.client_id, nonce=grant.nonce
        )
    if "offline_access" in grant.scopes:
        body["refresh_token"] = _refresh_token_issue(grant)
        body["refresh_token_expires_in"] = max(0, int(grant.expires_at - time.time()))
    return body


def token_response(form: Mapping[str, str], authorization: str = "") -> dict[str, Any]:
    """The token endpoint's answer to ``form``, or :class:`GrantError`."""
    client = authenticate_client(form, authorization)
    grant_type = form.get("grant_type", "")
    if grant_type == "authorization_code":
        return token_body(_from_code(form, client))
    if grant_type == "refresh_token":
        return token_body(_from_refresh_token(form, client))
    raise GrantError(
        "unsupported_grant_type", "grant_type must be authorization_code or refresh_token."
    )
