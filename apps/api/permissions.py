"""Small DRF permission classes on the token's scopes, app roles and kind.

Compose them with ``&``, ``|`` and ``~``. A failure is a 403 ``insufficient_scope`` whose
``WWW-Authenticate`` names what was required (RFC 6750 §3.1) and whose body says what was
missing. Matching is exact and case-sensitive, element by element: never substrings.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.entra_auth.authentication import challenge
from apps.entra_auth.claims import Claims, TokenKind


class InsufficientScope(exceptions.APIException):
    """403 ``insufficient_scope`` with the RFC 6750 challenge."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "insufficient_scope"

    def __init__(self, *, detail: str, required: Iterable[str]) -> None:
        required = sorted(required)
        super().__init__(detail=detail, code="insufficient_scope")
        self.auth_header = challenge(error="insufficient_scope", scope=" ".join(required))
        self.extra_body = {"required": required}


def _claims(request: Request) -> Claims | None:
    return request.auth if isinstance(request.auth, Claims) else None


class _RequireClaimValues(BasePermission):
    """Grants when the token carries the required values of one claim (any or all of them)."""

    values: frozenset[str] = frozenset()
    require_all = False
    kind: TokenKind | None = None
    what = ""

    def has_permission(self, request: Request, view: APIView) -> bool:
        claims = _claims(request)
        if claims is None:
            return False  # not authenticated by a token: DRF answers 401
        if self.kind is not None and claims.kind is not self.kind:
            raise InsufficientScope(
                detail=f"This endpoint needs a {self.kind} token", required=self.values
            )
        held = self.held(claims)
        ok = self.values <= held if self.require_all else bool(self.values & held)
        if not ok:
            raise InsufficientScope(
                detail=f"The token lacks the required {self.what}", required=self.values - held
            )
        return True

    def held(self, claims: Claims) -> frozenset[str]:
        raise NotImplementedError


class _RequireScopes(_RequireClaimValues):
    kind = TokenKind.DELEGATED
    what = "scope"

    def held(self, claims: Claims) -> frozenset[str]:
        return claims.scopes


class _RequireAppRoles(_RequireClaimValues):
    kind = TokenKind.APP
    what = "app role"

    def held(self, claims: Claims) -> frozenset[str]:
        return claims.roles


def require_scopes(*scopes: str, all_of: bool = False) -> type[BasePermission]:
    """Delegated tokens carrying any (or all) of ``scopes`` in ``scp``."""
    return type(
        "RequireScopes", (_RequireScopes,), {"values": frozenset(scopes), "require_all": all_of}
    )


def require_app_roles(*roles: str, all_of: bool = False) -> type[BasePermission]:
    """App-only tokens carrying any (or all) of ``roles``; a user's app role never counts."""
    return type(
        "RequireAppRoles", (_RequireAppRoles,), {"values": frozenset(roles), "require_all": all_of}
    )


class _RequireDjangoPermissions(BasePermission):
    """Grants when ``request.user.has_perms(...)``: mapped permissions, any token kind."""

    perms: frozenset[str] = frozenset()

    def has_permission(self, request: Request, view: APIView) -> bool:
        if _claims(request) is None:
            return False
        missing = {perm for perm in self.perms if not request.user.has_perm(perm)}
        if missing:
            raise InsufficientScope(
                detail="The token's roles, groups and scopes do not grant this", required=missing
            )
        return True


def require_permissions(*perms: str) -> type[BasePermission]:
    """Tokens whose mappings grant all of ``perms`` (``app_label.codename``)."""
    return type("RequirePermissions", (_RequireDjangoPermissions,), {"perms": frozenset(perms)})
