"""The dev issuer's discovery documents and JWKS, under Entra's URL layout.

``ENTRA_AUTHORITY_HOST`` points at ``/dev-issuer``, so the validator finds these exactly as
it finds Entra's: ``{host}/{tenant}/v2.0/.well-known/openid-configuration`` -> ``jwks_uri``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from apps.core.conf import portico_settings
from apps.dev_issuer.signing_key import public_jwk, signing_key


def authority() -> str:
    return portico_settings().entra_authority_host


def issuer(version: str, tenant: str) -> str:
    """v2.0: Entra's shape under our host; v1.0: a look-alike of ``sts.windows.net/{tid}/``."""
    return f"{authority()}/{tenant}/v2.0" if version == "2.0" else f"{authority()}/sts/{tenant}/"


def discovery(version: str, tenant: str) -> dict[str, Any]:
    keys_path = "discovery/v2.0/keys" if version == "2.0" else "discovery/keys"
    document = {
        "issuer": issuer(version, tenant),
        "jwks_uri": f"{authority()}/{tenant}/{keys_path}",
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["pairwise"],
        "token_endpoint_auth_methods_supported": ["none"],
        "tenant_region_scope": "dev",
    }
    if version == "2.0":
        document.update(sign_in_endpoints(tenant))
    return document


def sign_in_endpoints(tenant: str) -> dict[str, Any]:
    """What an OIDC client (MSAL.js, msal) needs to sign in: the v2.0 endpoints only."""
    oauth2 = f"{authority()}/{tenant}/oauth2/v2.0"
    return {
        "authorization_endpoint": f"{oauth2}/authorize",
        "token_endpoint": f"{oauth2}/token",
        "end_session_endpoint": f"{oauth2}/logout",
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_post",
            "client_secret_basic",
        ],
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "nbf",
            "nonce",
            "name",
            "preferred_username",
            "oid",
            "tid",
            "ver",
        ],
    }


def jwks() -> dict[str, Any]:
    return {"keys": [public_jwk(signing_key())]}


def document_for(path: str) -> dict[str, Any] | None:
    """The document at ``path`` (relative to the authority), or None."""
    parts = path.strip("/").split("/")
    tenants = portico_settings().tenants
    if not parts or parts[0] not in tenants:
        return None
    tenant, rest = parts[0], "/".join(parts[1:])
    routes = {
        "v2.0/.well-known/openid-configuration": lambda: discovery("2.0", tenant),
        ".well-known/openid-configuration": lambda: discovery("1.0", tenant),
        "discovery/v2.0/keys": jwks,
        "discovery/keys": jwks,
    }
    build = routes.get(rest)
    return None if build is None else build()


def in_process_fetcher(*, fallback: Callable[[str], bytes]) -> Callable[[str], bytes]:
    """A fetcher that answers URLs under the dev authority in process, others via fallback."""

    def fetch(url: str) -> bytes:
        base = authority() + "/"
        if url.startswith(base):
            document = document_for(url[len(base) :])
            if document is not None:
                return json.dumps(document).encode()
        return fallback(url)

    return fetch
