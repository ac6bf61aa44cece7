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
    return {
        "issuer": issuer(version, tenant),
        "jwks_uri": f"{authority()}/{tenant}/{keys_path}",
        "id_token_signing_alg_values_supported": ["RS256"],
        "subject_types_supported": ["pairwise"],
        "token_endpoint_auth_methods_supported": ["none"],
        "tenant_region_scope": "dev",
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
