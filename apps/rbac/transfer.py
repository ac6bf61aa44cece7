"""Promotion between environments: all mapping rules as one JSON document, out and back in.

The document is the desired state of the rules (docs/rbac-promotion.md): importing it makes
the database match it exactly, so rules it does not list are deleted, and the Django groups
its rules target get exactly the permissions it lists for them. Targets are named, never
numbered (``rule_document``), because ids differ between environments.

An import validates the whole document first (``transfer_format``), writing nothing unless
all of it is sound; then it applies the changes in one transaction through ``services``, so
each changed rule is audited (``via="import"``) and any failure part-way rolls back all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction

from apps.rbac import services
from apps.rbac.documents import rule_document
from apps.rbac.models import MappingRule
from apps.rbac.transfer_format import (
    FORMAT,
    RULE_KEYS,
    Desired,
    RuleKey,
    TransferError,
    document_validate,
    permission_name,
)

logger = logging.getLogger(__name__)

VIA = "import"


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class RuleChange:
    """A rule the import creates, updates or deletes, with the fields that change."""

    action: str  # create | update | delete
    source_kind: str
    source_value: str
    label: str
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class GroupChange:
    """A targeted group created, or whose permissions change."""

    name: str
    created: bool
    added: tuple[str, ...]
    removed: tuple[str, ...]


@dataclass(frozen=True)
class ImportReport:
    """What an import changes (or, on a dry run, would change)."""

    dry_run: bool
    rules: tuple[RuleChange, ...]
    rules_unchanged: int
    groups: tuple[GroupChange, ...]
    groups_unchanged: int

    def count(self, action: str) -> int:
        return sum(1 for change in self.rules if change.action == action)


def mapping_export() -> dict[str, Any]:
    """Every rule, sorted by (source_kind, source_value), and the groups they target."""
    rules = list(
        MappingRule.objects.prefetch_related(
            "groups__permissions__content_type", "permissions__content_type"
        )
    )
    # Sorted here, not by the database: collations differ between PostgreSQL and SQLite.
    documents = sorted(
        map(rule_document, rules), key=lambda d: (d["source_kind"], d["source_value"])
    )
    groups = {
        group.name: sorted(map(permission_name, group.permissions.all()))
        for rule in rules
        for group in rule.groups.all()
    }
    return {"format": FORMAT, "rules": documents, "groups": groups}


def _rule_change(action: str, before: dict | None, after: dict | None) -> RuleChange:
    shown = after or before or {}
    fields = ()
    if after is not None:
        fields = tuple(
            FieldChange(key, None if before is None else before[key], after[key])
            for key in RULE_KEYS[2:]  # source_kind and source_value identify the rule
            if before is None or before[key] != after[key]
        )
    return RuleChange(action, shown["source_kind"], shown["source_value"], shown["label"], fields)


def _plan_rules(desired: Desired, current: dict[RuleKey, dict]) -> tuple[list[RuleChange], int]:
    """Deletions first, then creations and updates in document order."""
    changes = [
        _rule_change("delete", before, None)
        for key, before in sorted(current.items())
        if key not in desired.rules
    ]
    unchanged = 0
    for key, after in desired.rules.items():
        before = current.get(key)
        if before == after:
            unchanged += 1
        else:
            changes.append(_rule_change("update" if before else "create", before, after))
    return changes, unchanged


def _plan_groups(desired: Desired, existing: Mapping[str, Group]) -> list[GroupChange]:
    changes = []
    for name, wanted in sorted(desired.groups.items()):
        group = existing.get(name)
        have = {permission_name(p) for p in group.permissions.all()} if group else set()
        if group is None or have != set(wanted):
            added = tuple(sorted(set(wanted) - have))
            changes.append(
                GroupChange(name, group is None, added, tuple(sorted(have - set(wanted))))
            )
    return changes


def _apply_groups(changes: list[GroupChange], desired: Desired) -> None:
    for change in changes:
        group, _ = Group.objects.get_or_create(name=change.name)
        group.permissions.set([desired.permissions[n] for n in desired.groups[change.name]])
        # Group permissions have no rule audit trail: the log records the change instead.
        logger.info(
            "rbac import: group %r %s, permissions added %s, removed %s",
            change.name,
            "created" if change.created else "updated",
            list(change.added),
            list(change.removed),
        )


@dataclass(frozen=True)
class _Apply:
    """Writes a planned change through the audited services."""

    desired: Desired
    existing: dict[RuleKey, MappingRule]
    actor: Any

    def rule(self, change: RuleChange, groups: Mapping[str, Group]) -> None:
        key = (change.source_kind, change.source_value)
        if change.action == "delete":
            services.mapping_delete(rule=self.existing[key], actor=self.actor, via=VIA)
            return
        wanted = self.desired.rules[key]
        services.mapping_save(
            rule=self.existing.get(key),
            data={field: wanted[field] for field in services.RULE_FIELDS},
            groups=[groups[name] for name in wanted["groups"]],
            permissions=[self.desired.permissions[name] for name in wanted["permissions"]],
            actor=self.actor,
            via=VIA,
        )

    def all(self, rule_changes: list[RuleChange], group_changes: list[GroupChange]) -> None:
        try:
            _apply_groups(group_changes, self.desired)
        except DatabaseError as exc:
            raise TransferError([f"groups: could not be applied: {exc}"]) from exc
        groups = {g.name: g for g in Group.objects.filter(name__in=self.desired.groups)}
        for change in rule_changes:
            try:
                self.rule(change, groups)
            except (ValidationError, DatabaseError) as exc:
                raise _failure(change, self.desired, exc) from exc


def _failure(change: RuleChange, desired: Desired, exc: Exception) -> TransferError:
    key = (change.source_kind, change.source_value)
    where = (
        f"rules[{desired.positions[key]}]"
        if key in desired.positions
        else f"existing rule ({json.dumps(key[0])}, {json.dumps(key[1])})"
    )
    detail = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
    return TransferError([f"{where}: could not be applied ({change.action}): {detail}"])


def mapping_import(*, document: Any, dry_run: bool = False, actor: Any = None) -> ImportReport:
    """Make the rules (and their targeted groups) what ``document`` says, or raise
    ``TransferError`` having changed nothing. ``dry_run`` reports without writing."""
    desired = document_validate(document=document)
    with transaction.atomic():
        rules = MappingRule.objects.prefetch_related("groups", "permissions__content_type")
        if not dry_run:
            rules = rules.select_for_update()  # concurrent admin edits wait for the import
        existing = {(rule.source_kind, rule.source_value): rule for rule in rules}
        current = {key: rule_document(rule) for key, rule in existing.items()}
        groups = Group.objects.filter(name__in=desired.groups)
        groups = {g.name: g for g in groups.prefetch_related("permissions__content_type")}
        rule_changes, unchanged = _plan_rules(desired, current)
        group_changes = _plan_groups(desired, groups)
        if not dry_run:
            _Apply(desired, existing, actor).all(rule_changes, group_changes)
    return ImportReport(
        dry_run=dry_run,
        rules=tuple(rule_changes),
        rules_unchanged=unchanged,
        groups=tuple(group_changes),
        groups_unchanged=len(desired.groups) - len(group_changes),
    )
