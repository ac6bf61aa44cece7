"""Validation of an authorization request (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2).

Errors about the client, the redirect URI or the response mode are shown to the user, never
redirected (the redirect URI is not trusted yet, RFC 6749 §4.1.2.1); later errors go back to
the client, with ``state``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from apps.dev_issuer.clients import Client, client_for, redirect_uri_allowed
from apps.dev_issuer.scopes import api_scope_names, split_scopes

# BASE64URL(SHA256(verifier)) without padding is always 43 characters (RFC 7636 §4.2).
S256_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
RESPONSE_MODES = ("query", "fragment")


@dataclass(frozen=True)
class AuthorizeRequest:
    client: Client
    redirect_uri: str
    response_mode: str
    state: str = ""
    nonce: str = ""
    scopes: tuple[str, ...] = ()
    code_challenge: str = ""
    prompt: str = ""

    def redirect_to(self, **params: str) -> str:
        """The redirect URI carrying ``params`` (and ``state``) the way the client asked."""
        if self.state:
            params["state"] = self.state
        if self.response_mode == "fragment":
            separator = "#"
        else:
            separator = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{separator}{urlencode(params)}"


class AuthorizeError(Exception):
    """An OAuth error; with ``request`` it goes back to the client, otherwise to the user."""

    def __init__(
        self, error: str, description: str, *, request: AuthorizeRequest | None = None
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.request = request


def _trusted_part(params: Mapping[str, str], request_origin: str) -> AuthorizeRequest:
    client = client_for(params.get("client_id", ""))
    if client is None:
        raise AuthorizeError("unauthorized_client", "Unknown client_id.")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri_allowed(redirect_uri, request_origin=request_origin):
        raise AuthorizeError(
            "invalid_request",
            "redirect_uri must be an absolute URL on this origin or registered in "
            "PORTICO_DEV_ISSUER_REDIRECT_URIS.",
        )
    mode = params.get("response_mode") or "query"
    if mode not in RESPONSE_MODES:
        raise AuthorizeError("invalid_request", "response_mode must be query or fragment.")
    return AuthorizeRequest(
        client=client, redirect_uri=redirect_uri, response_mode=mode, state=params.get("state", "")
    )


def _code_challenge(params: Mapping[str, str], request: AuthorizeRequest) -> str:
    challenge = params.get("code_challenge", "")
    if not challenge and request.client.confidential:
        return ""  # PKCE is optional for a client that authenticates with a secret
    if not challenge:
        raise AuthorizeError(
            "invalid_request", "PKCE is required: send code_challenge.", request=request
        )
    if params.get("code_challenge_method") != "S256":
        raise AuthorizeError(
            "invalid_request", "code_challenge_method must be S256.", request=request
        )
    if not S256_CHALLENGE.fullmatch(challenge):
        raise AuthorizeError(
            "invalid_request", "code_challenge is not a S256 challenge.", request=request
        )
    return challenge


def authorize_request(params: Mapping[str, str], *, request_origin: str) -> AuthorizeRequest:
    """The validated request, or :class:`AuthorizeError`."""
    request = _trusted_part(params, request_origin)
    if params.get("response_type") != "code":
        raise AuthorizeError(
            "unsupported_response_type", "response_type must be code.", request=request
        )
    scopes = split_scopes(params.get("scope", ""))
    if api_scope_names(scopes) is None:
        raise AuthorizeError(
            "invalid_scope", "Only scopes of the Portico API are issued.", request=request
        )
    return replace(
        request,
        nonce=params.get("nonce", ""),
        scopes=scopes,
        code_challenge=_code_challenge(params, request),
        prompt=params.get("prompt", ""),
    )
