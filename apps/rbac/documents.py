"""A rule as a plain, stable dict: the audit trail's before/after and the export format.

Targets are named, not numbered (``app_label.codename``, group name), so a document exported
in one environment means the same in another, where ids differ.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType

from apps.rbac.models import MappingRule


def rule_document(rule: MappingRule) -> dict[str, Any]:
    """Keys and lists in a fixed order, so exports diff cleanly."""
    return {
        "source_kind": rule.source_kind,
        "source_value": rule.source_value,
        "label": rule.label,
        "token_kinds": rule.token_kinds,
        "is_active": rule.is_active,
        "grants_staff": rule.grants_staff,
        "grants_superuser": rule.grants_superuser,
        "groups": sorted(group.name for group in rule.groups.all()),
        # get_for_id answers from ContentType's process cache: no query per permission.
        "permissions": sorted(
            f"{ContentType.objects.get_for_id(perm.content_type_id).app_label}.{perm.codename}"
            for perm in rule.permissions.all()
        ),
        "notes": rule.notes,
    }
