"""Validation failures, with a stable reason code and a fixed description; no HTTP here.

Descriptions are chosen from this fixed vocabulary and never echo token content, so they are
safe in ``WWW-Authenticate`` (RFC 6750 §3 limits ``error_description`` to printable ASCII
without ``"`` and ``\\``) and in logs. The DRF edge (``authentication.py``) maps the classes
to 400 / 401 / 503.
"""

from __future__ import annotations

# reason -> error_description
INVALID_TOKEN_REASONS: dict[str, str] = {
    "too_large": "The token is larger than any token Entra issues",
    "malformed": "The token is not a well-formed signed JWT",
    "bad_algorithm": "The token must be signed with RS256",
    "missing_kid": "The token header has no key id (kid)",
    "forbidden_header": (
        "The token header carries a parameter Entra never sends (jku, jwk, x5u, x5c or crit)"
    ),
    "other_resource": (
        "The token is for another resource (a Microsoft Graph or first-party API token); "
        "request a token for this API's scope"
    ),
    "unknown_issuer": "The token issuer is not accepted by this API",
    "v1_not_accepted": (
        "v1.0 tokens are not accepted; "
        "set api.requestedAccessTokenVersion=2 in the API app registration"
    ),
    "v2_not_accepted": "v2.0 tokens are not accepted by this API",
    "unknown_key": "The token signing key was not found",
    "bad_signature": "The token signature is invalid",
    "bad_key": "The signing key is not usable",
    "expired": "The token is expired",
    "not_yet_valid": "The token is not valid yet",
    "missing_claim": "The token lacks a required claim",
    "bad_claim_type": "A token claim has the wrong type",
    "bad_audience": "The token audience is not this API",
    "bad_tenant": "The token tenant is not accepted by this API",
    "bad_version": "The token version does not match its issuer",
    "lifetime_too_long": "The token lifetime is longer than Entra issues",
    "not_access_token": (
        "The token is not an access token (no azp or appid); send an access token, not an ID token"
    ),
    "no_permissions": (
        "The token has neither scp nor roles; the client was granted no permission on this API"
    ),
    "contradictory_kind": "The token claims to be app-only but carries delegated scopes",
    "missing_oid": "The token has no oid or tid; request the profile scope",
}

INVALID_REQUEST_REASONS: dict[str, str] = {
    "empty": "The Bearer credentials are empty",
    "syntax": "The Authorization header is not a single Bearer token",
    "duplicate": "More than one Authorization header was sent",
    "not_ascii": "The Authorization header is not ASCII",
    "several_methods": "The token was sent by more than one method",
}


class TokenError(Exception):
    """Base of every validation failure; ``reason`` is a stable machine-readable code."""

    vocabulary: dict[str, str] = {}

    def __init__(self, reason: str) -> None:
        if reason not in self.vocabulary:
            raise ValueError(f"unknown reason {reason!r}")
        self.reason = reason
        super().__init__(reason)

    @property
    def description(self) -> str:
        return self.vocabulary[self.reason]


class InvalidToken(TokenError):
    """The token is unusable: expired, forged, for someone else, malformed (401)."""

    vocabulary = INVALID_TOKEN_REASONS


class InvalidRequest(TokenError):
    """The request carrying the token is malformed (400)."""

    vocabulary = INVALID_REQUEST_REASONS


class KeysUnavailable(Exception):
    """No usable signing key could be obtained; the caller's token is not at fault (503)."""
