"""Small DRF permission classes on the token's scopes, app roles, kind and mapped permissions.

Compose them with ``&``, ``|`` and ``~``: like every DRF permission they answer True or
False (raising would break ``|`` and ``~``). A refusal also records why on the request;
the API exception handler turns DRF's ensuing 403 into ``insufficient_scope``, whose
``WWW-Authenticate`` names what was required (RFC 6750 §3.1) and whose body says what was
missing. Matching is exact and case-sensitive, element by element: never substrings.
"""

from __future__ import annotations

from collections.abc import Iterable

from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.entra_auth.authentication import challenge
from apps.entra_auth.claims import Claims, TokenKind

# The request attribute api_exception_handler reads (apps/core/exception_handler.py).
DENIAL_ATTR = "permission_denial"
_DENIALS_ATTR = "_permission_denials"


class InsufficientScope(exceptions.APIException):
    """403 ``insufficient_scope`` with the RFC 6750 challenge."""

    status_code = status.HTTP_403_FORBIDDEN
    default_code = "insufficient_scope"

    def __init__(self, *, detail: str, required: Iterable[str]) -> None:
        required = sorted(set(required))
        super().__init__(detail=detail, code="insufficient_scope")
        self.auth_header = challenge(error="insufficient_scope", scope=" ".join(required))
        self.extra_body = {"required": required}


def _deny(request: Request, detail: str, required: Iterable[str]) -> bool:
    """Record a refusal on the request (``DENIAL_ATTR``, merged with earlier ones when ``|``
    made several classes refuse) for the exception handler, and refuse."""
    denials = [*getattr(request, _DENIALS_ATTR, ()), (detail, frozenset(required))]
    setattr(request, _DENIALS_ATTR, denials)
    details = dict.fromkeys(detail for detail, _ in denials)  # ordered, without repeats
    merged = InsufficientScope(
        detail="; or ".join(details), required=frozenset().union(*(r for _, r in denials))
    )
    setattr(request, DENIAL_ATTR, merged)
    return False


def _claims(request: Request) -> Claims | None:
    return request.auth if isinstance(request.auth, Claims) else None


class _RequireTokenKind(BasePermission):
    """Grants tokens of one kind: delegated (a user) or app-only (a daemon)."""

    kind: TokenKind

    def has_permission(self, request: Request, view: APIView) -> bool:
        claims = _claims(request)
        if claims is None:
            return False  # not authenticated by a token: DRF answers 401
        if claims.kind is not self.kind:
            return _deny(request, f"This endpoint needs a {self.kind} token", ())
        return True


class RequireDelegatedToken(_RequireTokenKind):
    """Only tokens issued to a signed-in user (``scp``), never to an application."""

    kind = TokenKind.DELEGATED


class RequireAppOnlyToken(_RequireTokenKind):
    """Only app-only tokens (client credentials: daemons), never a user's."""

    kind = TokenKind.APP


class _RequireClaimValues(_RequireTokenKind):
    """Grants when the token, of the right kind, carries the required values of one claim
    (any or all of them)."""

    values: frozenset[str] = frozenset()
    require_all = False
    what = ""

    def has_permission(self, request: Request, view: APIView) -> bool:
        claims = _claims(request)
        if claims is None:
            return False
        if claims.kind is not self.kind:
            return _deny(request, f"This endpoint needs a {self.kind} token", self.values)
        held = self.held(claims)
        if self.require_all and not self.values <= held:
            return _deny(request, f"The token lacks the required {self.what}", self.values - held)
        if not self.require_all and not self.values & held:
            return _deny(request, f"The token lacks the required {self.what}", self.values)
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


def _has_permissions(request: Request, perms: Iterable[str]) -> bool:
    """True when the user holds every one of ``perms``; else a refusal naming each missing
    one, so that a caller (or the SPA) can say which permission its token lacks."""
    missing = sorted({perm for perm in perms if not request.user.has_perm(perm)})
    if missing:
        detail = f"The token's roles, groups and scopes do not grant {', '.join(missing)}"
        return _deny(request, detail, missing)
    return True


class _RequireDjangoPermissions(BasePermission):
    """Grants when ``request.user`` holds ``perms``: mapped permissions, any token kind."""

    perms: frozenset[str] = frozenset()

    def has_permission(self, request: Request, view: APIView) -> bool:
        return _claims(request) is not None and _has_permissions(request, self.perms)


def require_permissions(*perms: str) -> type[BasePermission]:
    """Tokens whose mappings grant all of ``perms`` (``app_label.codename``)."""
    return type("RequirePermissions", (_RequireDjangoPermissions,), {"perms": frozenset(perms)})


class MappedModelPermissions(DjangoModelPermissions):
    """DRF's ``DjangoModelPermissions``, reads included (``view_``), naming what is missing."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False  # DRF answers 401 with the bearer challenge
        model = self._queryset(view).model
        return _has_permissions(request, self.get_required_permissions(request.method, model))
