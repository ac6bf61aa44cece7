"""Django auth backends: Entra principals get exactly what the current token's mappings grant.

``request.user`` for a token-authenticated request is a per-request copy carrying its
:class:`~apps.rbac.resolution.Grant` (see ``authentication.py``), so ``has_perm``,
``get_all_permissions``, ``DjangoModelPermissions`` and the admin site all answer from the
token in hand: a role removed in Entra is gone with the next token, and nothing derived from a
token is ever written to the user's groups or permissions.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import BaseBackend, ModelBackend

from apps.entra_auth.models import User
from apps.rbac.resolution import Grant

GRANT_ATTR = "rbac_grant"


def grant_of(user: Any) -> Grant | None:
    return getattr(user, GRANT_ATTR, None)


class MappedPermissionsBackend(BaseBackend):
    """Permissions of the request's token, from the mapping rules (deny by default)."""

    def get_user(self, user_id: Any) -> User | None:
        """The session's user, as Django's first backend must provide (``force_login`` and
        sign-in flows record it); rights still come only from a request's token."""
        return User._default_manager.filter(pk=user_id, is_active=True).first()

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        grant = grant_of(user_obj)
        if obj is not None or grant is None or not user_obj.is_active:
            return set()
        return set(grant.permissions)

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        grant = grant_of(user_obj)
        return (
            obj is None and grant is not None and user_obj.is_active and (perm in grant.permissions)
        )

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        grant = grant_of(user_obj)
        prefix = f"{app_label}."
        return (
            grant is not None
            and user_obj.is_active
            and any(perm.startswith(prefix) for perm in grant.permissions)
        )


class LocalAccountsBackend(ModelBackend):
    """Django's password and stored permissions, for local break-glass accounts only.

    Entra principals get nothing from stored permissions: their rights come from the mappings
    alone, and asking the database would cost queries on every request.
    """

    def user_can_authenticate(self, user: Any) -> bool:
        return super().user_can_authenticate(user) and not _is_entra(user)

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set() if _is_entra(user_obj) else super().get_all_permissions(user_obj, obj)

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return not _is_entra(user_obj) and super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return not _is_entra(user_obj) and super().has_module_perms(user_obj, app_label)


def _is_entra(user: Any) -> bool:
    return isinstance(user, User) and bool(user.entra_object_id)
