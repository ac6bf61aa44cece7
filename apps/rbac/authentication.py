"""Bearer authentication that also resolves the token's mapped permissions."""

from __future__ import annotations

from rest_framework.request import Request

from apps.entra_auth.authentication import EntraBearerAuthentication
from apps.entra_auth.claims import Claims
from apps.entra_auth.models import User
from apps.rbac.backends import GRANT_ATTR
from apps.rbac.resolution import grant_for_claims


def attach_grant(user: User, claims: Claims) -> User:
    """Give a (per-request) user the grant and admin flags of its token; returns it."""
    grant = grant_for_claims(claims=claims)
    setattr(user, GRANT_ATTR, grant)
    # Admin flags of Entra principals come from the mappings alone, per token.
    user.is_staff = grant.is_staff
    user.is_superuser = grant.is_superuser
    return user


class MappedEntraAuthentication(EntraBearerAuthentication):
    """:class:`EntraBearerAuthentication`, plus the token's grant on ``request.user``."""

    def authenticate(self, request: Request) -> tuple[User, Claims] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user, claims = result
        return attach_grant(user, claims), claims
