"""The write services: a save that changes nothing writes nothing; documents cost no N+1."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from apps.rbac import resolution, services
from apps.rbac.documents import rule_document
from apps.rbac.models import MappingAudit, MappingRule

pytestmark = pytest.mark.django_db


def _rule(permissions: list[Permission]) -> MappingRule:
    return services.mapping_save(
        rule=None,
        data={"source_kind": "app_role", "source_value": "Orders.Read", "label": "Readers"},
        permissions=permissions,
        via="test",
    )


def test_saving_a_rule_unchanged_writes_audits_and_bumps_nothing(
    django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    perms = list(Permission.objects.filter(codename__startswith="view_")[:3])
    rule = _rule(perms)
    audits = MappingAudit.objects.count()
    with (
        django_capture_on_commit_callbacks() as callbacks,
        django_assert_max_num_queries(12) as captured,
    ):
        services.mapping_save(
            rule=rule,
            data={"label": "Readers", "is_active": True},
            permissions=reversed(perms),
            via="test",
        )
    writes = ("INSERT", "UPDATE", "DELETE")
    assert not [q["sql"] for q in captured.captured_queries if q["sql"].startswith(writes)]
    assert callbacks == []  # no version bump scheduled: no worker reloads for nothing
    assert MappingAudit.objects.count() == audits


def test_saving_a_real_change_audits_it_and_bumps_the_version(
    django_capture_on_commit_callbacks,
):
    rule = _rule([])
    with django_capture_on_commit_callbacks() as callbacks:
        services.mapping_save(rule=rule, data={"label": "Order readers"}, via="test")
    assert resolution.bump_version in callbacks
    last = MappingAudit.objects.latest("pk")
    assert (last.before["label"], last.after["label"]) == ("Readers", "Order readers")


def test_a_rule_document_costs_the_same_queries_for_one_or_many_permissions(
    django_assert_num_queries,
):
    one = _rule(list(Permission.objects.all()[:1]))
    every_permission = list(Permission.objects.all())
    many = services.mapping_save(
        rule=None,
        data={"source_kind": "scope", "source_value": "Orders.All"},
        permissions=every_permission,
        via="test",
    )
    rule_document(one)  # warms ContentType's cache, as any running process has it warm
    with django_assert_num_queries(2):  # groups, permissions
        rule_document(one)
    with django_assert_num_queries(2):
        document = rule_document(many)
    assert len(document["permissions"]) == len(every_permission) > 20
