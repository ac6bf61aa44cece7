"""Claims -> permissions (issue 3, "Resolution" and "Groups overage"), seen through /api/me.

Every test sends real signed tokens through the DRF edge, so what is checked is what a view
gets: the rule kinds and their targets, token-kind restrictions, exact matching, deny by
default, overage, the admin flags, changes reaching the next request, and the promise that
nothing derived from a token is ever written to the user's row, groups or permissions.

Rules are written through ``apps.rbac.services`` inside ``committed()``, which runs the
on-commit callbacks (the version bump of ``signals.py``) as a real commit would.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import OperationalError

from apps.core import metrics
from apps.entra_auth.models import User
from apps.rbac import resolution, services
from apps.rbac.models import MappingRule, SourceKind, TokenKinds
from apps.rbac.resolution import RBAC_ADMIN_PERMISSIONS
from apps.rbac.simulation import mapping_simulate
from tests.conftest import (
    GROUPS_OVERAGE,
    USER_OID,
    FakeEntra,
    MakeRule,
    bearer,
    group_with,
    permission,
    portico_settings_for,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rules")]

GROUP_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
OTHER_GROUP_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
VIEW, ADD, CHANGE, DELETE = (
    f"projects.{action}_project" for action in ("view", "add", "change", "delete")
)
ADMIN_ROLE = "Portico.Admin"


def me(client: Any, token: str) -> dict[str, Any]:
    response = client.get("/api/me", **bearer(token))
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


def matched(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(rule["kind"], rule["value"]) for rule in body["matched_rules"]]


# --- each kind of rule ---------------------------------------------------------------------
KINDS = [
    pytest.param(SourceKind.APP_ROLE, "Orders.Manage", {"roles": ["Orders.Manage"]}, id="app_role"),
    pytest.param(SourceKind.GROUP, GROUP_ID, {"groups": [GROUP_ID]}, id="group"),
    pytest.param(
        SourceKind.SCOPE, "Orders.Write", {"scp": "access_as_user Orders.Write"}, id="scope"
    ),
]


@pytest.mark.parametrize(("kind", "value", "claims"), KINDS)
def test_each_kind_of_rule_grants_its_permissions_and_its_groups_permissions(
    client, token_factory, make_rule, kind, value, claims
):
    editors = group_with("Project editors", CHANGE)
    rule = make_rule(kind, value, perms=[VIEW], groups=[editors])

    body = me(client, token_factory(claims=claims))

    assert body["permissions"] == [CHANGE, VIEW]
    assert body["matched_rules"] == [
        {"id": rule.pk, "kind": kind, "value": value, "label": f"{kind} {value}"}
    ]
    assert (body["is_staff"], body["is_superuser"]) == (False, False)


@pytest.mark.parametrize(
    ("kind", "claims"),
    [
        pytest.param(SourceKind.APP_ROLE, {"roles": ["Orders.Export"]}, id="app_role"),
        pytest.param(
            SourceKind.GROUP, {"roles": ["Portico.Read"], "groups": [GROUP_ID]}, id="group"
        ),
    ],
)
def test_app_only_rules_grant_to_daemons(client, token_factory, make_rule, kind, claims):
    value = GROUP_ID if kind == SourceKind.GROUP else "Orders.Export"
    editors = group_with("Project editors", CHANGE)
    make_rule(kind, value, perms=[ADD], groups=[editors], token_kinds=TokenKinds.APP)
    body = me(client, token_factory(app=True, claims=claims))
    assert body["token_type"] == "app"
    assert body["permissions"] == [ADD, CHANGE]
    assert matched(body) == [(kind, value)]


def test_rules_of_all_three_kinds_add_up(client, token_factory, make_rule):
    make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW])
    make_rule(SourceKind.GROUP, GROUP_ID, perms=[CHANGE])
    make_rule(SourceKind.SCOPE, "Orders.Write", perms=[ADD])
    token = token_factory(
        claims={
            "roles": ["Orders.Read"],
            "groups": [GROUP_ID],
            "scp": "access_as_user Orders.Write",
        }
    )
    body = me(client, token)
    assert body["permissions"] == [ADD, CHANGE, VIEW]
    assert sorted(matched(body)) == [
        ("app_role", "Orders.Read"),
        ("group", GROUP_ID),
        ("scope", "Orders.Write"),
    ]


# --- token kinds ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "value", "user_claims", "daemon_claims"),
    [
        pytest.param(
            SourceKind.APP_ROLE,
            "Orders.Export",
            {"roles": ["Orders.Export"]},
            {"roles": ["Orders.Export"]},
            id="app_role",
        ),
        pytest.param(
            SourceKind.GROUP,
            GROUP_ID,
            {"groups": [GROUP_ID]},
            {"roles": ["Portico.Read"], "groups": [GROUP_ID]},
            id="group",
        ),
    ],
)
@pytest.mark.parametrize(
    ("token_kinds", "user_gets", "daemon_gets"),
    [
        pytest.param(TokenKinds.DELEGATED, True, False, id="delegated-only"),
        pytest.param(TokenKinds.APP, False, True, id="app-only"),
        pytest.param(TokenKinds.BOTH, True, True, id="both"),
    ],
)
def test_token_kinds_decide_who_may_use_a_value(
    client,
    token_factory,
    make_rule,
    kind,
    value,
    user_claims,
    daemon_claims,
    token_kinds,
    user_gets,
    daemon_gets,
):
    """A user carrying a daemon's role value gets nothing from it, and the reverse."""
    make_rule(kind, value, perms=[VIEW], token_kinds=token_kinds)
    user = me(client, token_factory(claims=user_claims))
    daemon = me(client, token_factory(app=True, claims=daemon_claims))

    assert (user["token_type"], daemon["token_type"]) == ("delegated", "app")
    assert user["permissions"] == ([VIEW] if user_gets else [])
    assert bool(user["matched_rules"]) is user_gets
    assert daemon["permissions"] == ([VIEW] if daemon_gets else [])
    assert bool(daemon["matched_rules"]) is daemon_gets


def test_a_scope_rule_is_for_delegated_tokens_only():
    with pytest.raises(ValidationError, match="delegated"):
        services.mapping_save(
            rule=None,
            data={"source_kind": "scope", "source_value": "Orders.Read", "token_kinds": "both"},
            via="test",
        )
    assert not MappingRule.objects.exists()


# --- exact matching ------------------------------------------------------------------------
LOOKALIKES = [
    pytest.param("app_role", "Portico.Admin", {"roles": ["Portico.Admins"]}, id="role-longer"),
    pytest.param("app_role", "Portico.Admins", {"roles": ["Portico.Admin"]}, id="role-shorter"),
    pytest.param("app_role", "Portico.Admin", {"roles": ["Portico"]}, id="role-prefix"),
    pytest.param("app_role", "Portico.Admin", {"roles": ["portico.admin"]}, id="role-lower"),
    pytest.param("app_role", "Portico.Admin", {"roles": ["PORTICO.ADMIN"]}, id="role-upper"),
    pytest.param("app_role", "Portico.Admin", {"roles": [" Portico.Admin"]}, id="role-lead-sp"),
    pytest.param("app_role", "Portico.Admin", {"roles": ["Portico.Admin "]}, id="role-trail-sp"),
    pytest.param("app_role", "Portico.Admin", {"roles": ["Portico.Admin\n"]}, id="role-newline"),
    pytest.param("app_role", "Portico.Admin", {"roles": ["Portico.Admin\u200b"]}, id="role-zwsp"),
    pytest.param("group", GROUP_ID, {"groups": [GROUP_ID.upper()]}, id="group-upper"),
    pytest.param("group", GROUP_ID, {"groups": [GROUP_ID[:-1]]}, id="group-prefix"),
    pytest.param("group", GROUP_ID, {"groups": [f"{GROUP_ID} "]}, id="group-trail-sp"),
    pytest.param("group", GROUP_ID, {"groups": [f"{{{GROUP_ID}}}"]}, id="group-braced"),
    pytest.param("scope", "Orders.Read", {"scp": "access_as_user orders.read"}, id="scope-lower"),
    pytest.param("scope", "Orders.Read", {"scp": "access_as_user Orders.ReadWrite"}, id="scp-long"),
    pytest.param("scope", "Orders.Read", {"scp": "access_as_user Orders.Rea"}, id="scope-short"),
    pytest.param("scope", "Orders.Read", {"scp": "access_as_user,Orders.Read"}, id="scope-comma"),
    # A value of another kind never matches: a group named like a role, a role like a scope.
    pytest.param("app_role", "Portico.Admin", {"groups": ["Portico.Admin"]}, id="role-as-group"),
    pytest.param("app_role", "Portico.Admin", {"scp": "Portico.Admin"}, id="role-as-scope"),
    pytest.param("scope", "Orders.Read", {"roles": ["Orders.Read"]}, id="scope-as-role"),
    pytest.param("group", GROUP_ID, {"roles": [GROUP_ID]}, id="group-as-role"),
]


@pytest.mark.parametrize(("kind", "value", "claims"), LOOKALIKES)
def test_values_match_exactly(client, token_factory, make_rule, kind, value, claims):
    """No substring, no case folding, no trimming, no cross-kind match; control: the exact
    value, in the next request, does match."""
    make_rule(kind, value, perms=[VIEW])
    body = me(client, token_factory(claims=claims))
    assert body["permissions"] == []
    assert body["matched_rules"] == []
    exact = {
        "app_role": {"roles": [value]},
        "group": {"groups": [value]},
        "scope": {"scp": f"access_as_user {value}"},
    }[kind]
    assert me(client, token_factory(claims=exact))["permissions"] == [VIEW]


@pytest.mark.parametrize("value", [" Orders.Read", "Orders.Read ", "Orders.Read\t", ""])
def test_rule_values_with_outer_spaces_are_refused(value):
    """Nothing is trimmed on the token's side, so nothing may be padded on the rule's side."""
    with pytest.raises(ValidationError):
        services.mapping_save(
            rule=None, data={"source_kind": "app_role", "source_value": value}, via="test"
        )
    assert not MappingRule.objects.exists()


# --- deny by default -----------------------------------------------------------------------
def test_inactive_rules_grant_nothing(client, token_factory, make_rule):
    editors = group_with("Project editors", CHANGE)
    for kind, value in (("app_role", "Orders.Read"), ("group", GROUP_ID), ("scope", "Orders.Rd")):
        make_rule(kind, value, perms=[VIEW], groups=[editors], grants_staff=True, is_active=False)
    token = token_factory(
        claims={"roles": ["Orders.Read"], "groups": [GROUP_ID], "scp": "access_as_user Orders.Rd"}
    )
    body = me(client, token)
    assert body["permissions"] == []
    assert body["matched_rules"] == []
    assert body["is_staff"] is False


def test_unmapped_roles_groups_and_scopes_grant_nothing(client, token_factory, make_rule):
    make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW], grants_superuser=True)
    make_rule(SourceKind.GROUP, GROUP_ID, perms=[CHANGE], grants_staff=True)
    make_rule(SourceKind.SCOPE, "Orders.Write", perms=[ADD])
    token = token_factory(
        claims={
            "roles": [f"Role.{n}" for n in range(20)],
            "groups": [
                OTHER_GROUP_ID,
                *(f"{n:08d}-0000-4000-8000-000000000000" for n in range(50)),
            ],
            "scp": "access_as_user User.Read Files.ReadWrite",
            "wids": ["62e90394-69f5-4237-9190-012177145e10"],  # Global Administrator
        }
    )
    body = me(client, token)
    assert body["permissions"] == []
    assert body["matched_rules"] == []
    assert (body["is_staff"], body["is_superuser"]) == (False, False)


def test_with_no_rules_at_all_nothing_is_granted(client, token_factory):
    body = me(client, token_factory(claims={"roles": [ADMIN_ROLE], "groups": [GROUP_ID]}))
    assert (body["permissions"], body["matched_rules"]) == ([], [])
    assert (body["is_staff"], body["is_superuser"]) == (False, False)


# --- groups overage ------------------------------------------------------------------------
@pytest.mark.parametrize("overage", GROUPS_OVERAGE.values(), ids=GROUPS_OVERAGE.keys())
def test_overage_token_gets_no_group_rules_but_keeps_its_role_rules(
    client, token_factory, make_rule, spy_server, caplog, overage
):
    make_rule(SourceKind.GROUP, GROUP_ID, perms=[CHANGE], grants_staff=True)
    make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW])
    make_rule(SourceKind.SCOPE, "Orders.Write", perms=[ADD])
    # Even a group that is listed does not count: the list is known to be incomplete.
    claims = {
        "roles": ["Orders.Read"],
        "groups": [GROUP_ID],
        "scp": "access_as_user Orders.Write",
        **overage(spy_server.url),
    }
    counted = metrics.value("portico_groups_overage_total")

    with caplog.at_level(logging.WARNING, logger="apps.rbac.groups"):
        body = me(client, token_factory(claims=claims))

    assert body["groups_overage"] is True
    assert body["permissions"] == [ADD, VIEW]
    assert sorted(matched(body)) == [("app_role", "Orders.Read"), ("scope", "Orders.Write")]
    assert body["is_staff"] is False
    assert metrics.value("portico_groups_overage_total") == counted + 1
    warnings = [
        r for r in caplog.records if r.name == "apps.rbac.groups" and r.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "overage" in warnings[0].getMessage().lower()
    assert spy_server.requests == []  # the URL in the token is never fetched


def test_a_stream_of_overage_tokens_logs_one_warning_but_counts_each(client, token_factory, caplog):
    counted = metrics.value("portico_groups_overage_total")
    with caplog.at_level(logging.WARNING, logger="apps.rbac.groups"):
        for _ in range(5):
            me(client, token_factory(claims={"hasgroups": True}))
    assert metrics.value("portico_groups_overage_total") == counted + 5
    assert len([r for r in caplog.records if r.name == "apps.rbac.groups"]) == 1


def test_simulating_an_overage_token_neither_counts_nor_logs_nor_asks_graph(
    make_rule, spy_server, caplog, settings
):
    make_rule(SourceKind.GROUP, GROUP_ID, perms=[CHANGE])
    counted = metrics.value("portico_groups_overage_total")
    claims = {"groups": [GROUP_ID], **GROUPS_OVERAGE["claim-sources"](spy_server.url)}
    settings.PORTICO = {**settings.PORTICO, "RBAC_GRAPH_GROUPS": True}
    with caplog.at_level(logging.WARNING, logger="apps.rbac"):
        result = mapping_simulate(document=claims)
    assert result.grant.permissions == frozenset()
    assert metrics.value("portico_groups_overage_total") == counted
    assert not caplog.records
    assert spy_server.requests == []


def test_a_token_without_overage_is_not_counted(client, token_factory, make_rule, caplog):
    make_rule(SourceKind.GROUP, GROUP_ID, perms=[CHANGE])
    counted = metrics.value("portico_groups_overage_total")
    with caplog.at_level(logging.WARNING, logger="apps.rbac.groups"):
        body = me(client, token_factory(claims={"groups": [GROUP_ID]}))
    assert (body["groups_overage"], body["permissions"]) == (False, [CHANGE])
    assert metrics.value("portico_groups_overage_total") == counted
    assert not [r for r in caplog.records if r.name == "apps.rbac.groups"]


# --- admin flags ---------------------------------------------------------------------------
def test_rule_flags_make_the_token_staff_and_superuser(client, token_factory, make_rule):
    make_rule(SourceKind.APP_ROLE, "Portico.Operator", grants_staff=True)
    make_rule(SourceKind.GROUP, GROUP_ID, grants_superuser=True)
    staff = me(client, token_factory(claims={"roles": ["Portico.Operator"]}))
    superuser = me(client, token_factory(claims={"groups": [GROUP_ID]}))
    neither = me(client, token_factory(claims={"roles": ["Portico.Other"]}))
    assert (staff["is_staff"], staff["is_superuser"]) == (True, False)
    assert (superuser["is_staff"], superuser["is_superuser"]) == (False, True)
    assert (neither["is_staff"], neither["is_superuser"]) == (False, False)


def test_a_daemon_is_never_staff_nor_superuser_even_through_a_rule(
    client, token_factory, make_rule
):
    make_rule(
        SourceKind.APP_ROLE,
        "Portico.Operator",
        perms=[VIEW],
        grants_staff=True,
        grants_superuser=True,
        token_kinds="both",
    )
    daemon = me(client, token_factory(app=True, claims={"roles": ["Portico.Operator"]}))
    person = me(client, token_factory(claims={"roles": ["Portico.Operator"]}))
    assert daemon["matched_rules"]
    assert daemon["permissions"] == [VIEW]  # the permissions still apply
    assert (daemon["is_staff"], daemon["is_superuser"]) == (False, False)
    assert (person["is_staff"], person["is_superuser"]) == (True, True)


@pytest.fixture
def admin_role(settings: Any, entra: FakeEntra) -> str:
    """``PORTICO_RBAC_ADMIN_ROLE=Portico.Admin`` for this test."""
    settings.PORTICO = portico_settings_for(entra.authority, RBAC_ADMIN_ROLE=ADMIN_ROLE)
    return ADMIN_ROLE


def test_the_admin_role_names_real_permissions():
    names = {
        f"{app_label}.{codename}"
        for app_label, codename in Permission.objects.values_list(
            "content_type__app_label", "codename"
        )
    }
    assert names >= RBAC_ADMIN_PERMISSIONS


def test_admin_role_grants_rbac_administration_and_admin_site_to_a_user(
    client, token_factory, admin_role
):
    body = me(client, token_factory(claims={"roles": [admin_role]}))
    assert body["permissions"] == sorted(RBAC_ADMIN_PERMISSIONS)
    assert (body["is_staff"], body["is_superuser"]) == (True, False)
    assert body["matched_rules"] == []  # no rule needed: the bootstrap setting alone


def test_admin_role_gives_a_daemon_rbac_administration_but_never_staff(
    client, token_factory, admin_role
):
    body = me(client, token_factory(app=True, claims={"roles": [admin_role]}))
    assert body["permissions"] == sorted(RBAC_ADMIN_PERMISSIONS)
    assert (body["is_staff"], body["is_superuser"]) == (False, False)


def test_admin_role_adds_to_the_rules(client, token_factory, make_rule, admin_role):
    make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW])
    body = me(client, token_factory(claims={"roles": [admin_role, "Orders.Read"]}))
    assert body["permissions"] == sorted({*RBAC_ADMIN_PERMISSIONS, VIEW})
    assert body["is_staff"] is True


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"roles": ["portico.admin"]}, id="lower"),
        pytest.param({"roles": ["Portico.Admins"]}, id="longer"),
        pytest.param({"roles": ["Portico.Admin "]}, id="trailing-space"),
        pytest.param({"groups": [ADMIN_ROLE]}, id="as-group"),
        pytest.param({"scp": f"access_as_user {ADMIN_ROLE}"}, id="as-scope"),
    ],
)
def test_admin_role_matches_exactly_and_as_an_app_role_only(
    client, token_factory, admin_role, claims
):
    body = me(client, token_factory(claims=claims))
    assert (body["permissions"], body["is_staff"]) == ([], False)


def test_without_the_setting_the_admin_role_is_an_ordinary_unmapped_role(client, token_factory):
    body = me(client, token_factory(claims={"roles": [ADMIN_ROLE]}))  # RBAC_ADMIN_ROLE unset
    assert (body["permissions"], body["is_staff"]) == ([], False)


# --- changes reach the very next request ---------------------------------------------------
@dataclass
class World:
    """A rule for Orders.Read -> view_project + the editors group (change_project)."""

    rule: MappingRule
    editors: Group
    make_rule: MakeRule


BEFORE = [CHANGE, VIEW]
CHANGES: dict[str, tuple[Callable[[World], object], list[str]]] = {
    "group-gains-permission": (
        lambda w: w.editors.permissions.add(permission(DELETE)),
        [CHANGE, DELETE, VIEW],
    ),
    "group-loses-permission": (lambda w: w.editors.permissions.remove(permission(CHANGE)), [VIEW]),
    "group-deleted": (lambda w: w.editors.delete(), [VIEW]),
    "rule-deactivated": (
        lambda w: services.mapping_save(rule=w.rule, data={"is_active": False}, via="test"),
        [],
    ),
    "rules-deactivated-in-bulk": (
        lambda w: services.mapping_set_active(rules=[w.rule], active=False, actor=None, via="test"),
        [],
    ),
    "rule-deleted": (lambda w: services.mapping_delete(rule=w.rule, via="test"), []),
    "rule-added": (
        lambda w: w.make_rule(SourceKind.APP_ROLE, "Orders.Write", perms=[ADD]),
        [ADD, CHANGE, VIEW],
    ),
    "rule-targets-replaced": (
        lambda w: services.mapping_save(
            rule=w.rule, data={}, groups=[], permissions=[permission(ADD)], via="test"
        ),
        [ADD],
    ),
    "rule-narrowed-to-daemons": (
        lambda w: services.mapping_save(rule=w.rule, data={"token_kinds": "app"}, via="test"),
        [],
    ),
    "rule-value-changed": (
        lambda w: services.mapping_save(rule=w.rule, data={"source_value": "X"}, via="test"),
        [],
    ),
}


@pytest.fixture
def world(make_rule: MakeRule) -> World:
    editors = group_with("Project editors", CHANGE)
    rule = make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW], groups=[editors])
    return World(rule=rule, editors=editors, make_rule=make_rule)


@pytest.mark.parametrize(("change", "after"), CHANGES.values(), ids=CHANGES.keys())
def test_a_change_is_visible_on_the_very_next_request(
    client, token_factory, world, committed, django_assert_num_queries, change, after
):
    token = token_factory(claims={"roles": ["Orders.Read", "Orders.Write"]})
    assert me(client, token)["permissions"] == BEFORE
    with django_assert_num_queries(0):  # warm: answered from the in-memory snapshot
        assert me(client, token)["permissions"] == BEFORE

    with committed():
        change(world)

    assert me(client, token)["permissions"] == after


@pytest.mark.django_db(transaction=True)
def test_a_really_committed_change_is_visible_on_the_next_request(client, token_factory):
    """The same without the test transaction: the bump runs from a real on_commit."""
    token = token_factory(claims={"roles": ["Orders.Read"]})
    assert me(client, token)["permissions"] == []
    rule = services.mapping_save(
        rule=None,
        data={"source_kind": "app_role", "source_value": "Orders.Read"},
        permissions=[permission(VIEW)],
        via="test",
    )
    assert me(client, token)["permissions"] == [VIEW]
    services.mapping_save(rule=rule, data={"is_active": False}, via="test")
    assert me(client, token)["permissions"] == []


def test_a_database_outage_during_a_reload_keeps_serving_the_last_rules(
    client, token_factory, make_rule, committed, monkeypatch, caplog
):
    token = token_factory(claims={"roles": ["Orders.Read"]})
    make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW])
    assert me(client, token)["permissions"] == [VIEW]

    def database_down(version: str | None) -> resolution.Snapshot:
        raise OperationalError("connection refused")

    monkeypatch.setattr(resolution, "_load", database_down)
    with committed():
        resolution.bump_version()
    with caplog.at_level(logging.WARNING, logger="apps.rbac.resolution"):
        assert me(client, token)["permissions"] == [VIEW]
        assert me(client, token)["permissions"] == [VIEW]
    warnings = [r for r in caplog.records if r.name == "apps.rbac.resolution"]
    assert len(warnings) == 1  # then it backs off instead of asking on every request
    assert "serving the last ones" in warnings[0].getMessage()

    monkeypatch.undo()
    monkeypatch.setattr(resolution, "DATABASE_RETRY_SECONDS", 0.0)
    make_rule(SourceKind.APP_ROLE, "Orders.Read.All", perms=[CHANGE])
    token = token_factory(claims={"roles": ["Orders.Read", "Orders.Read.All"]})
    resolution._snapshot = replace(resolution._snapshot, retry_after=float("-inf"))
    assert me(client, token)["permissions"] == [CHANGE, VIEW]  # recovered


# --- per token, never stored ---------------------------------------------------------------
def test_a_role_removed_from_the_next_token_is_gone(client, token_factory, make_rule):
    make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW])
    make_rule(SourceKind.APP_ROLE, "Orders.Admin", perms=[DELETE], grants_staff=True)
    make_rule(SourceKind.GROUP, GROUP_ID, perms=[CHANGE], grants_superuser=True)

    first = me(client, token_factory(claims={"roles": ["Orders.Read", "Orders.Admin"]}))
    with_group = me(client, token_factory(claims={"roles": ["Orders.Read"], "groups": [GROUP_ID]}))
    last = me(client, token_factory(claims={"roles": ["Orders.Read"]}))

    assert (first["permissions"], first["is_staff"]) == ([DELETE, VIEW], True)
    assert (with_group["permissions"], with_group["is_staff"]) == ([CHANGE, VIEW], False)
    assert with_group["is_superuser"] is True
    assert (last["permissions"], last["is_staff"], last["is_superuser"]) == ([VIEW], False, False)
    assert first["oid"] == last["oid"] == USER_OID  # one user, three tokens


@pytest.fixture
def stored_rows() -> Callable[[], dict[str, Any]]:
    """What the database holds about users' groups, permissions and flags."""

    def rows() -> dict[str, Any]:
        return {
            "memberships": sorted(User.groups.through.objects.values_list("user_id", "group_id")),
            "user_permissions": sorted(
                User.user_permissions.through.objects.values_list("user_id", "permission_id")
            ),
            "flags": sorted(User.objects.values_list("pk", "is_staff", "is_superuser")),
            "group_permissions": sorted(
                Group.permissions.through.objects.values_list("group_id", "permission_id")
            ),
        }

    return rows


def test_nothing_derived_from_a_token_is_written_to_the_user(
    client, token_factory, make_rule, stored_rows
):
    editors = group_with("Project editors", CHANGE)
    make_rule(
        SourceKind.APP_ROLE,
        "Orders.Admin",
        perms=[VIEW],
        groups=[editors],
        grants_staff=True,
        grants_superuser=True,
    )
    token = token_factory(claims={"roles": ["Orders.Admin"]})
    me(client, token)  # first sight: the user row is created
    user = User.objects.get(entra_object_id=USER_OID)
    user.groups.add(Group.objects.create(name="Chosen by an admin"))  # an admin's own edit
    before = stored_rows()

    answers = [me(client, token) for _ in range(2)]
    answers.append(me(client, token_factory(claims={"roles": ["Orders.Admin"]})))

    assert {(tuple(a["permissions"]), a["is_staff"], a["is_superuser"]) for a in answers} == {
        ((CHANGE, VIEW), True, True)
    }
    assert stored_rows() == before
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (False, False)
    assert [g.name for g in user.groups.all()] == ["Chosen by an admin"]  # not overwritten


def test_a_process_that_never_loaded_the_rules_answers_503_while_the_database_is_down(
    client, token_factory, monkeypatch
):
    def database_down(version: str | None) -> resolution.Snapshot:
        raise OperationalError("connection refused")

    monkeypatch.setattr(resolution, "_snapshot", None)
    monkeypatch.setattr(resolution, "_load", database_down)
    response = client.get("/api/me", **bearer(token_factory()))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert response.json()["code"] == "unavailable"


def test_a_repeated_token_reuses_its_grant_until_the_rules_change(
    client, token_factory, make_rule, committed, monkeypatch
):
    make_rule(SourceKind.APP_ROLE, "Orders.Read", perms=[VIEW])
    computed = []
    original = resolution.rules_matching
    monkeypatch.setattr(
        resolution, "rules_matching", lambda **kw: computed.append(1) or original(**kw)
    )
    token = token_factory(claims={"roles": ["Orders.Read"]})
    for _ in range(3):
        assert me(client, token)["permissions"] == [VIEW]
    assert len(computed) == 1
    make_rule(SourceKind.APP_ROLE, "Orders.Read.All", perms=[CHANGE])
    same_roles_other_token = token_factory(claims={"roles": ["Orders.Read"]})
    assert me(client, same_roles_other_token)["permissions"] == [VIEW]
    assert len(computed) == 2  # a new snapshot: computed again


def test_overage_tokens_are_resolved_every_time(client, token_factory):
    counted = metrics.value("portico_groups_overage_total")
    token = token_factory(claims={"hasgroups": True})
    me(client, token)
    me(client, token)
    assert metrics.value("portico_groups_overage_total") == counted + 2
