"""Any change that can alter a resolution bumps the mapping version (see resolution.py)."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.rbac.models import MappingRule
from apps.rbac.resolution import bump_version


def _bump_after_commit(**_: object) -> None:
    # After commit: a worker reloading between the bump and the commit would cache old rules.
    transaction.on_commit(bump_version)


for _model in (MappingRule, Group, Permission):
    post_save.connect(_bump_after_commit, sender=_model, dispatch_uid=f"rbac-save-{_model}")
    post_delete.connect(_bump_after_commit, sender=_model, dispatch_uid=f"rbac-del-{_model}")
for _through in (
    MappingRule.groups.through,
    MappingRule.permissions.through,
    Group.permissions.through,
):
    m2m_changed.connect(_bump_after_commit, sender=_through, dispatch_uid=f"rbac-m2m-{_through}")
