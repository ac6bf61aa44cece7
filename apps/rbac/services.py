"""Every write to mapping rules goes through here: validated, atomic, audited.

Admin, REST API and import all call these, so the same validation and the same audit trail
apply whichever door a change came through. The version bump follows from the model signals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from apps.rbac.documents import rule_document
from apps.rbac.models import MappingAudit, MappingRule

RULE_FIELDS = (
    "source_kind",
    "source_value",
    "label",
    "token_kinds",
    "is_active",
    "grants_staff",
    "grants_superuser",
    "notes",
)


def audit_record(
    *,
    rule: MappingRule,
    action: str,
    actor: Any,
    via: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> MappingAudit:
    """Write one audit entry; ``actor`` may be None (import from the shell)."""
    real_actor = actor if getattr(actor, "pk", None) else None
    return MappingAudit.objects.create(
        rule_id=rule.pk,
        rule_repr=str(rule)[:300],
        action=action,
        actor=real_actor,
        actor_label=str(actor)[:300] if actor is not None else "",
        via=via,
        before=before,
        after=after,
    )


@transaction.atomic
def mapping_save(
    *,
    rule: MappingRule | None,
    data: dict[str, Any],
    groups: Iterable[Group] | None = None,
    permissions: Iterable[Permission] | None = None,
    actor: Any = None,
    via: str,
) -> MappingRule:
    """Create (``rule=None``) or update a rule from ``data``; targets replaced when given.

    Nothing is written, audited or bumped for an update that changes nothing (an import
    re-applied, a form saved untouched): every write makes every worker reload the rules.
    """
    before = rule_document(rule) if rule is not None else None
    rule = rule or MappingRule()
    changed = [f for f in RULE_FIELDS if f in data and getattr(rule, f) != data[f]]
    for field in changed:
        setattr(rule, field, data[field])
    rule.full_clean()
    if rule.pk is None or changed:
        rule.save()
    # RelatedManager.set() diffs against the current rows: the same set writes nothing and
    # sends no m2m_changed (so no version bump).
    if groups is not None:
        rule.groups.set(groups)
    if permissions is not None:
        rule.permissions.set(permissions)
    after = rule_document(rule)
    if before != after:
        action = MappingAudit.Action.CREATE if before is None else MappingAudit.Action.UPDATE
        audit_record(rule=rule, action=action, actor=actor, via=via, before=before, after=after)
    return rule


@transaction.atomic
def mapping_delete(*, rule: MappingRule, actor: Any = None, via: str) -> None:
    before = rule_document(rule)
    audit_record(
        rule=rule,
        action=MappingAudit.Action.DELETE,
        actor=actor,
        via=via,
        before=before,
        after=None,
    )
    rule.delete()


@transaction.atomic
def mapping_set_active(*, rules: Iterable[MappingRule], active: bool, actor: Any, via: str) -> int:
    """Bulk activate/deactivate, one audit entry per rule that changed."""
    changed = 0
    for rule in rules:
        if rule.is_active != active:
            mapping_save(rule=rule, data={"is_active": active}, actor=actor, via=via)
            changed += 1
    return changed
