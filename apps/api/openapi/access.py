"""What an operation requires, read from its view's permission classes (never hand-written).

The OpenAPI description of every operation is derived from the same classes that enforce it
(``apps/api/permissions.py``, DRF's), so the docs cannot drift from the code. A permission
class this module does not know is listed under ``unknown``, which the schema generation
reports as a warning (and ``spectacular --fail-on-warn`` in the tests as a failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework.permissions import AND, AllowAny, DjangoModelPermissions, IsAuthenticated
from rest_framework.views import APIView

from apps.api.permissions import (
    _RequireAppRoles,
    _RequireDjangoPermissions,
    _RequireScopes,
    _RequireTokenKind,
)
from apps.entra_auth.claims import TokenKind

ANY_KIND = (TokenKind.DELEGATED.value, TokenKind.APP.value)


@dataclass
class Access:
    """The requirements of one operation (method + view); all of them must hold."""

    authenticated: bool = False
    token_kinds: tuple[str, ...] = ANY_KIND
    # Names as the token carries them; "a or b" when any one of several will do.
    scopes: set[str] = field(default_factory=set)
    app_roles: set[str] = field(default_factory=set)
    permissions: set[str] = field(default_factory=set)
    unknown: set[str] = field(default_factory=set)

    def as_extension(self) -> dict[str, Any]:
        """The ``x-portico-access`` vendor extension: machine-readable, sorted."""
        return {
            "authenticated": self.authenticated,
            "token_kinds": list(self.token_kinds) if self.authenticated else [],
            "scopes": sorted(self.scopes),
            "app_roles": sorted(self.app_roles),
            "permissions": sorted(self.permissions),
        }

    def as_markdown(self) -> str:
        """The same, for people reading Swagger UI."""
        if not self.authenticated:
            return "**Access:** public; no token needed."
        lines = [
            "**Access:** an Entra access token (`Authorization: Bearer ...`, or the "
            "browsable API's signed-in session).",
            f"- Token kind: {' or '.join(self.token_kinds)}",
            f"- Scopes (`scp`): {_listed(self.scopes)}",
            f"- App roles (`roles`): {_listed(self.app_roles)}",
            f"- Django permissions: {_listed(self.permissions)}",
        ]
        if self.permissions:
            lines.append(
                "  (granted by mapping rules on the token's app roles, groups or scopes: "
                "see `/api/rbac/mappings/`, or check yours with `/api/me`)"
            )
        return "\n".join(lines)

    def restrict_kind(self, kind: TokenKind) -> None:
        self.token_kinds = tuple(k for k in self.token_kinds if k == kind.value)


def _listed(values: set[str]) -> str:
    return ", ".join(f"`{value}`" for value in sorted(values)) or "none required"


def _claim_values(permission: _RequireScopes | _RequireAppRoles) -> set[str]:
    """``{"a", "b"}`` when all are required; ``{"a or b"}`` when any one of them will do."""
    values = sorted(permission.values)
    if permission.require_all or len(values) < 2:
        return set(values)
    return {" or ".join(values)}


def access_for(view: APIView, method: str) -> Access:
    """The requirements ``view`` enforces on ``method``, from its classes alone."""
    access = Access(authenticated=bool(view.get_authenticators()))
    for permission in view.get_permissions():
        _add(access, permission, view, method)
    return access


def _add(access: Access, permission: Any, view: APIView, method: str) -> None:
    if isinstance(permission, AND):  # `A & B` as instantiated by DRF
        _add(access, permission.op1, view, method)
        _add(access, permission.op2, view, method)
    elif isinstance(permission, AllowAny):
        access.authenticated = False
    elif isinstance(permission, IsAuthenticated):
        pass  # implied by a bearer authenticator
    elif isinstance(permission, DjangoModelPermissions):
        model = view.get_queryset().model
        access.permissions |= set(permission.get_required_permissions(method, model))
    elif isinstance(permission, _RequireDjangoPermissions):
        access.permissions |= permission.perms
    elif isinstance(permission, _RequireScopes):
        access.restrict_kind(TokenKind.DELEGATED)
        access.scopes |= _claim_values(permission)
    elif isinstance(permission, _RequireAppRoles):
        access.restrict_kind(TokenKind.APP)
        access.app_roles |= _claim_values(permission)
    elif isinstance(permission, _RequireTokenKind):
        access.restrict_kind(permission.kind)
    else:
        access.unknown.add(type(permission).__name__)
