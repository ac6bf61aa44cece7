"""Which requested scopes the dev issuer grants, and the ``scp`` values they become."""

from __future__ import annotations

from collections.abc import Iterable

from apps.core.conf import portico_settings

# OpenID Connect and refresh-token scopes: they shape the response, not the access token.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
# The one delegated scope the API exposes; ``/.default`` asks for every consented one.
DEFAULT_SCOPE_NAME = "access_as_user"


def split_scopes(value: str) -> tuple[str, ...]:
    """The space-separated ``scope`` parameter, without duplicates (RFC 6749 §3.3)."""
    return tuple(dict.fromkeys(value.split()))


def api_scope_names(requested: Iterable[str]) -> tuple[str, ...] | None:
    """The ``scp`` values for the API's scopes among ``requested``; None if any scope is
    for another resource (``invalid_scope``: this issuer only issues tokens for the API)."""
    conf = portico_settings()
    prefixes = tuple(
        f"{resource}/" for resource in (conf.entra_api_app_id_uri, conf.entra_api_client_id)
    )
    names: list[str] = []
    for scope in requested:
        if scope in OIDC_SCOPES:
            continue
        prefix = next((p for p in prefixes if scope.startswith(p)), None)
        name = "" if prefix is None else scope[len(prefix) :]
        if not name or "/" in name:
            return None
        names.append(DEFAULT_SCOPE_NAME if name == ".default" else name)
    return tuple(dict.fromkeys(names))
