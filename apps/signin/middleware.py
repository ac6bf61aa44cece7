"""``request.user`` for the admin site from the session's Entra token.

Placed after Django's ``AuthenticationMiddleware``. When the session holds an access token
(from "Sign in with Microsoft Entra" or a pasted token), the user is the token's principal
with the grant of the mapping rules, validated again on this request: ``is_staff`` and every
permission come from the current token and rules, never from stored flags or a password, so
deactivating a rule closes the admin site on the next request. Otherwise the user is
Django's own: a local break-glass account while PORTICO_ADMIN_PASSWORD_LOGIN is on, else
anonymous.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from apps.core.conf import portico_settings
from apps.entra_auth.exceptions import KeysUnavailable
from apps.signin.session_tokens import session_identity


def _user(request: HttpRequest) -> Any:
    try:
        identity = session_identity(request)
    except KeysUnavailable:  # cannot tell now: nobody, rather than a stale identity
        return AnonymousUser()
    if identity is not None:
        return identity[0]
    user = get_user(request)
    if user.is_authenticated and not portico_settings().admin_password_login:
        # A local account's session may predate switching password login off: not honoured.
        return AnonymousUser()
    return user


class SessionTokenUserMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.user = SimpleLazyObject(lambda: _user(request))
        return self.get_response(request)
