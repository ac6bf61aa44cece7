"""How clients obtain a token for this API, as OpenAPI security schemes.

Two schemes for the bearer authenticator: ``entra`` (OAuth2 authorization code; Swagger UI adds
PKCE) against the configured authority (the dev issuer locally, Entra elsewhere), and
``bearer`` for pasting a token obtained some other way (``manage.py mint_token``, az CLI);
and ``session`` for the browsable API's cookie.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from apps.api.openapi.access import access_for
from apps.core.conf import PorticoSettings, portico_settings

OAUTH2 = "entra"
BEARER = "bearer"


def authority_endpoint(conf: PorticoSettings, name: str) -> str:
    """``{ENTRA_AUTHORITY_HOST}/{tenant}/oauth2/v2.0/{name}`` (authorize, token)."""
    return f"{conf.entra_authority_host}/{conf.entra_tenant_id}/oauth2/v2.0/{name}"


def api_scope(conf: PorticoSettings, scope: str) -> str:
    """The name a client requests for a scope the token carries as ``scope`` in ``scp``."""
    return f"{conf.entra_api_app_id_uri}/{scope}"


def requested_scopes(conf: PorticoSettings, required: set[str]) -> list[str]:
    """What to request: the configured SPA scopes plus any scope an operation names."""
    return sorted(set(conf.entra_spa_scopes) | {api_scope(conf, s) for s in required})


class MappedEntraAuthenticationScheme(OpenApiAuthenticationExtension):
    """``apps.rbac.authentication.MappedEntraAuthentication`` (and so its Entra base)."""

    target_class = "apps.rbac.authentication.MappedEntraAuthentication"
    name = [OAUTH2, BEARER]

    def get_security_requirement(self, auto_schema: AutoSchema) -> list[dict[str, list[str]]]:
        access = access_for(auto_schema.view, auto_schema.method)
        scopes = requested_scopes(portico_settings(), access.scopes)
        return [{OAUTH2: scopes}, {BEARER: []}]

    def get_security_definition(self, auto_schema: AutoSchema) -> list[dict[str, Any]]:
        conf = portico_settings()
        scopes = {scope: "Call Portico as the signed-in user" for scope in conf.entra_spa_scopes}
        return [
            {
                "type": "oauth2",
                "description": (
                    "Sign in with Entra (authorization code + PKCE). Locally the authority is "
                    "the dev issuer and its persona picker."
                ),
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": authority_endpoint(conf, "authorize"),
                        "tokenUrl": authority_endpoint(conf, "token"),
                        "scopes": scopes,
                    }
                },
            },
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": (
                    "Paste an Entra access token for this API (locally: "
                    "`python manage.py mint_token --user admin`)."
                ),
            },
        ]


class SessionTokenScheme(OpenApiAuthenticationExtension):
    """``apps.signin.authentication.SessionTokenAuthentication``: the browsable API's session."""

    target_class = "apps.signin.authentication.SessionTokenAuthentication"
    name = "session"

    def get_security_definition(self, auto_schema: AutoSchema) -> dict[str, Any]:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "The session of a browser signed in to the browsable API (with Entra, or with "
                "a pasted token); it holds the token server-side and re-validates it on every "
                "request. Unsafe methods also need Django's CSRF token."
            ),
        }
