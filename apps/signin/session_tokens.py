"""An access token kept in the server-side session, re-validated on every request.

The browser holds only the session id (an HttpOnly cookie); the token stays in the session
store (the database, read through Redis when ``REDIS_URL`` is set). Each request validates it
again with the same validator and the same mapping as a ``Bearer`` request, so an expired or
revoked token, a deactivated user or a changed mapping rule takes effect on the next request.
A token that no longer validates is dropped from the session.
"""

from __future__ import annotations

import logging

from django.contrib.auth import logout
from django.http import HttpRequest
from django.middleware.csrf import rotate_token

from apps.entra_auth.claims import Claims
from apps.entra_auth.exceptions import InvalidToken
from apps.entra_auth.models import User
from apps.entra_auth.runtime import token_validator
from apps.entra_auth.users import user_for_claims
from apps.rbac.authentication import attach_grant

logger = logging.getLogger(__name__)

SESSION_KEY = "portico_access_token"
_IDENTITY_ATTR = "_portico_session_identity"
_UNSET = object()

Identity = tuple[User, Claims]


def session_sign_in(request: HttpRequest, token: str) -> Claims:
    """Validate ``token`` and keep it in a fresh session; raises InvalidToken (not kept).

    Whatever the session held before (another token, a local admin login) is discarded, and
    the session id and CSRF token change, as ``django.contrib.auth.login`` does against
    session fixation.
    """
    claims = token_validator().validate(token)
    logout(request)  # flushes the old session: a new session key
    request.session[SESSION_KEY] = token
    rotate_token(request)
    setattr(request, _IDENTITY_ATTR, _UNSET)
    return claims


def session_identity(request: HttpRequest) -> Identity | None:
    """The user and claims of the session's token, validated now (once per request).

    None without a token, and when the token no longer validates (it is then dropped).
    Raises :class:`~apps.entra_auth.exceptions.KeysUnavailable`: the token is not at fault.
    """
    cached = getattr(request, _IDENTITY_ATTR, _UNSET)
    if cached is _UNSET:
        cached = _identity(request)
        setattr(request, _IDENTITY_ATTR, cached)
    return cached


def _identity(request: HttpRequest) -> Identity | None:
    session = getattr(request, "session", None)
    token = session.get(SESSION_KEY) if session is not None else None
    if not isinstance(token, str):
        return None
    try:
        claims = token_validator().validate(token)
    except InvalidToken as error:
        del session[SESSION_KEY]
        logger.info("Session token dropped: %s", error.reason)
        return None
    user = user_for_claims(claims)
    if not user.is_active:
        del session[SESSION_KEY]
        logger.info("Session token dropped: principal disabled")
        return None
    return attach_grant(user, claims), claims
