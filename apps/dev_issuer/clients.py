"""The dev issuer's app registrations and the redirect URIs it accepts.

The SPA (and Swagger UI's client) are public clients: no secret, PKCE S256 required, as Entra
requires for the "SPA" platform. The "web" client is confidential: it authenticates with a
secret generated into ``var/`` (``PORTICO["DEV_WEB_CLIENT_SECRET"]``), for server-side
sign-in with msal.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from apps.core.conf import portico_settings
from config.env import DEV_WEB_CLIENT_ID


@dataclass(frozen=True)
class Client:
    client_id: str
    confidential: bool

    def authenticates(self, secret: str) -> bool:
        """Public clients prove nothing here (PKCE does it); confidential ones their secret."""
        if not self.confidential:
            return not secret
        expected = portico_settings().dev_web_client_secret
        return bool(expected) and hmac.compare_digest(secret.encode(), expected.encode())


def client_for(client_id: str) -> Client | None:
    """The registered client with this id, or None. Public: the SPA and the developer tools'
    client (Swagger UI, ENTRA_DEVTOOLS_CLIENT_ID); confidential: the web client."""
    conf = portico_settings()
    if client_id and client_id in (conf.entra_spa_client_id, conf.entra_devtools_client_id):
        return Client(client_id, confidential=False)
    if client_id == DEV_WEB_CLIENT_ID:
        return Client(client_id, confidential=True)
    return None


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an absolute URL, or "" for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def redirect_uri_allowed(uri: str, *, request_origin: str) -> bool:
    """Same origin as the sign-in request, or registered (PORTICO_DEV_ISSUER_REDIRECT_URIS).

    An open redirector would hand codes to anyone: nothing else is accepted, and URIs with a
    fragment or user info are refused outright (RFC 6749 §3.1.2).
    """
    parts = urlsplit(uri)
    if parts.fragment or "@" in parts.netloc or not origin_of(uri):
        return False
    if uri in portico_settings().dev_issuer_redirect_uris:
        return True
    return origin_of(uri) == request_origin.lower()
