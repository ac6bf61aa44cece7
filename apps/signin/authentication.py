"""DRF authentication from the session's token, for people using the browsable API.

Listed **after** the Bearer class: DRF builds ``WWW-Authenticate`` from the first class, so
requests without credentials still get a 401 with the Bearer challenge, and a request that
sends ``Authorization: Bearer`` never reaches this class (no CSRF for Bearer clients).
Cookie-authenticated requests are exposed to cross-site request forgery, so unsafe methods
need Django's CSRF token here, exactly as DRF's ``SessionAuthentication`` enforces it.
"""

from __future__ import annotations

from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from apps.entra_auth.authentication import SigningKeysUnavailable
from apps.entra_auth.exceptions import KeysUnavailable
from apps.signin.session_tokens import Identity, session_identity


class SessionTokenAuthentication(SessionAuthentication):
    """``request.user`` / ``request.auth`` from the token kept in the session (re-validated)."""

    def authenticate(self, request: Request) -> Identity | None:
        try:
            identity = session_identity(request._request)
        except KeysUnavailable:
            raise SigningKeysUnavailable() from None
        if identity is None:
            return None
        self.enforce_csrf(request)
        return identity
