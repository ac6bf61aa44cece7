"""Mints tokens shaped like Entra's v1.0 / v2.0 access tokens (entra-token-spec §13)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import jwt

from apps.core.conf import portico_settings
from apps.dev_issuer.documents import issuer
from apps.dev_issuer.personas import DEV_DAEMON_CLIENT_ID, app_object_id, persona
from apps.dev_issuer.signing_key import public_jwk, signing_key


def mint_token(
    *,
    user: str = "admin",
    roles: Sequence[str] | None = None,
    scopes: Sequence[str] = ("access_as_user",),
    groups: Sequence[str] = (),
    app: bool = False,
    version: str = "2.0",
    expires_in: int = 3600,
    extra_claims: Mapping[str, Any] | None = None,
) -> str:
    """A signed access token for this API from the dev issuer.

    ``user`` names a persona (admin, editor, reader, noroles) or any ad-hoc name; with
    ``app=True`` it names a daemon, and the token is app-only (``roles``, no ``scp``).
    ``roles=None`` means the persona's own roles.
    """
    conf = portico_settings()
    now = int(time.time())
    who = persona(user)
    claims: dict[str, Any] = {
        "iss": issuer(version, conf.entra_tenant_id),
        "iat": now,
        "nbf": now,
        "exp": now + expires_in,
        "tid": conf.entra_tenant_id,
        "ver": version,
        "uti": uuid.uuid4().hex[:22],
    }
    client_claim = "azp" if version == "2.0" else "appid"
    claims["aud"] = conf.entra_api_client_id if version == "2.0" else conf.entra_api_app_id_uri
    if app:
        oid = app_object_id(user)
        claims.update(oid=oid, sub=oid, idtyp="app", roles=list(roles or ()))
        claims[client_claim] = DEV_DAEMON_CLIENT_ID
    else:
        claims.update(oid=who.oid, sub=who.oid, name=who.name, scp=" ".join(scopes))
        claims["preferred_username" if version == "2.0" else "upn"] = who.username
        claims[client_claim] = conf.entra_spa_client_id
        claims["roles"] = list(who.roles if roles is None else roles)
    if groups:
        claims["groups"] = list(groups)
    claims.update(extra_claims or {})
    return _sign(claims)


def mint_id_token(*, user: str, client_id: str, nonce: str = "", expires_in: int = 3600) -> str:
    """A v2.0 id_token for ``client_id`` about persona ``user``, as the authorize flow returns.

    ``nonce`` is echoed from the authorization request (OpenID Connect Core §3.1.3.7): the
    client compares it with the one it sent, which defeats replayed id_tokens.
    """
    conf = portico_settings()
    now = int(time.time())
    who = persona(user)
    claims: dict[str, Any] = {
        "iss": issuer("2.0", conf.entra_tenant_id),
        "aud": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + expires_in,
        "tid": conf.entra_tenant_id,
        "oid": who.oid,
        "sub": who.oid,
        "name": who.name,
        "preferred_username": who.username,
        "ver": "2.0",
    }
    if nonce:
        claims["nonce"] = nonce
    return _sign(claims)


def _sign(claims: Mapping[str, Any]) -> str:
    key = signing_key()
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": public_jwk(key)["kid"]})
