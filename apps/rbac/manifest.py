"""Import app roles from an Entra app manifest as inactive rule skeletons.

An app registration's manifest lists its roles in ``appRoles``; typing each value by hand
invites typos that silently grant nothing (values compare exactly). Importing them creates
*inactive* rules with no targets: nothing is granted until an admin picks targets and
activates a rule. Parsing is a pure function that reports every problem with its place in
the document, and the import writes nothing unless the whole document is sound.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.rbac import services
from apps.rbac.models import MappingRule, SourceKind, TokenKinds

# allowedMemberTypes -> token kinds: "User" roles reach people (delegated tokens),
# "Application" roles reach daemons (app-only tokens, client credentials).
_MEMBER_TYPES = {
    frozenset({"User"}): TokenKinds.DELEGATED,
    frozenset({"Application"}): TokenKinds.APP,
    frozenset({"User", "Application"}): TokenKinds.BOTH,
}
_VALUE_MAX = MappingRule._meta.get_field("source_value").max_length
_LABEL_MAX = MappingRule._meta.get_field("label").max_length


class ManifestError(ValueError):
    """The document is not a usable manifest; ``problems`` name each fault and its place."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class AppRole:
    index: int  # position in appRoles, to name it in messages
    value: str
    display_name: str
    description: str
    token_kinds: TokenKinds
    is_enabled: bool


@dataclass(frozen=True)
class ManifestImportReport:
    """Values created as skeletons, and those left alone (and why)."""

    created: tuple[str, ...] = ()
    existing: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()


def parse_app_roles(document: Any) -> tuple[AppRole, ...]:
    """The ``appRoles`` of a manifest document; raises :class:`ManifestError` listing faults."""
    if not isinstance(document, Mapping):
        raise ManifestError(["The manifest must be a JSON object."])
    roles = document.get("appRoles")
    if not isinstance(roles, list):
        where = "is missing" if roles is None else "must be a list"
        raise ManifestError([f"appRoles {where}."])
    problems: list[str] = []
    parsed: list[AppRole] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(roles):
        role = _parse_role(item, index, problems)
        if role is None:
            continue
        if role.value in seen:
            problems.append(
                f"appRoles[{index}].value {role.value!r} repeats appRoles[{seen[role.value]}]."
            )
        seen.setdefault(role.value, index)
        parsed.append(role)
    if problems:
        raise ManifestError(problems)
    return tuple(parsed)


def _parse_role(item: Any, index: int, problems: list[str]) -> AppRole | None:
    where = f"appRoles[{index}]"
    if not isinstance(item, Mapping):
        problems.append(f"{where} must be an object.")
        return None
    before = len(problems)
    value = _text(item, "value", where, problems, required=True)
    if value and (value != value.strip() or len(value) > _VALUE_MAX):
        problems.append(f"{where}.value must have no outer spaces and at most {_VALUE_MAX} chars.")
    display_name = _text(item, "displayName", where, problems)
    description = _text(item, "description", where, problems)
    kinds = _token_kinds(item.get("allowedMemberTypes"), f"{where}.allowedMemberTypes", problems)
    enabled = item.get("isEnabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{where}.isEnabled must be true or false.")
    if len(problems) > before or kinds is None:
        return None
    return AppRole(index, value, display_name[:_LABEL_MAX], description, kinds, enabled)


def _text(
    item: Mapping[str, Any], key: str, where: str, problems: list[str], *, required: bool = False
) -> str:
    raw = item.get(key)
    if raw is None:
        if required:
            problems.append(f"{where}.{key} is missing.")
        return ""
    if not isinstance(raw, str):
        problems.append(f"{where}.{key} must be a string.")
        return ""
    if required and not raw:
        problems.append(f"{where}.{key} must not be empty.")
    return raw


def _token_kinds(raw: Any, where: str, problems: list[str]) -> TokenKinds | None:
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) for t in raw):
        problems.append(f'{where} must be a non-empty list of "User" and/or "Application".')
        return None
    kinds = _MEMBER_TYPES.get(frozenset(raw))
    if kinds is None:
        unknown = sorted(set(raw) - {"User", "Application"})
        problems.append(f"{where} has unknown member types {unknown}.")
    return kinds


@transaction.atomic
def mapping_import_manifest(
    *, document: Any, actor: Any, via: str = "admin"
) -> ManifestImportReport:
    """Create an inactive, target-less rule per new enabled app role; all or nothing.

    Existing app-role rules (active or not) are never touched: an admin may have edited them.
    Roles disabled in the manifest cannot be assigned in Entra, so no skeleton is made.
    """
    roles = parse_app_roles(document)
    taken = set(
        MappingRule.objects.filter(
            source_kind=SourceKind.APP_ROLE, source_value__in=[r.value for r in roles]
        ).values_list("source_value", flat=True)
    )
    created: list[str] = []
    for role in roles:
        if role.value in taken or not role.is_enabled:
            continue
        try:
            services.mapping_save(rule=None, data=_skeleton(role), actor=actor, via=via)
        except ValidationError as exc:  # the model refused what parsing let through
            raise ManifestError([f"appRoles[{role.index}]: {'; '.join(exc.messages)}"]) from exc
        created.append(role.value)
    return ManifestImportReport(
        created=tuple(created),
        existing=tuple(r.value for r in roles if r.value in taken),
        disabled=tuple(r.value for r in roles if not r.is_enabled and r.value not in taken),
    )


def _skeleton(role: AppRole) -> dict[str, Any]:
    return {
        "source_kind": SourceKind.APP_ROLE,
        "source_value": role.value,
        "label": role.display_name,
        "token_kinds": role.token_kinds,
        "notes": role.description,
        "is_active": False,
        "grants_staff": False,
        "grants_superuser": False,
    }
