"""The RBAC admin: rule list, audited writes, read-only audit trail, simulator, manifest import.

Admins sign in with local accounts here (Entra sign-in for the admin site comes later), so the
clients below log in a local superuser, or a local staff user holding only some permissions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.rbac.documents import rule_document
from apps.rbac.manifest import ManifestError, parse_app_roles
from apps.rbac.models import MappingAudit, MappingRule, SourceKind, TokenKinds
from tests.conftest import b64url, group_with, permission, stored_rule

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rules")]

CHANGELIST = "admin:rbac_mappingrule_changelist"
SIMULATE = "admin:rbac_mappingrule_simulate"
IMPORT = "admin:rbac_mappingrule_import_manifest"
AUDITS = "admin:rbac_mappingaudit_changelist"
GROUP_OID = "6f1c2d3e-4a5b-4c6d-8e7f-001122334455"


def login(client: Client, user: Any) -> Client:
    client.force_login(user)  # as pytest-django's admin_client does: the first backend
    return client


@pytest.fixture
def superuser(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("root", "root@example.com", "pw-1234567")


@pytest.fixture
def su_client(client: Client, superuser: Any) -> Client:
    return login(client, superuser)


StaffClient = Callable[..., Client]


@pytest.fixture
def staff_client(client: Client, django_user_model: Any) -> StaffClient:
    """A local staff user holding only the given ``rbac`` permissions (codenames)."""

    def make(*codenames: str) -> Client:
        user = django_user_model.objects.create_user("staff", password="pw-1234567", is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="rbac", codename__in=codenames)
        )
        return login(client, user)

    return make


@pytest.fixture
def editors() -> Group:
    return group_with("Project editors", "projects.change_project", "projects.add_project")


@pytest.fixture
def world(editors: Group) -> dict[str, MappingRule]:
    """Six rules that differ in every filtered column."""
    return {
        "reader": stored_rule(
            SourceKind.APP_ROLE,
            "Orders.Read",
            label="Order readers",
            perms=["projects.view_project"],
        ),
        "daemon": stored_rule(
            SourceKind.APP_ROLE, "Orders.Sync", token_kinds=TokenKinds.APP, groups=[editors]
        ),
        "finance": stored_rule(SourceKind.GROUP, GROUP_OID, label="Finance team", groups=[editors]),
        "scope": stored_rule(SourceKind.SCOPE, "access_as_user", perms=["projects.view_project"]),
        "admins": stored_rule(
            SourceKind.APP_ROLE, "Portico.Ops", token_kinds=TokenKinds.BOTH, grants_staff=True
        ),
        "old": stored_rule(SourceKind.APP_ROLE, "Legacy.Role", is_active=False),
    }


def listed(response: Any) -> set[str]:
    assert response.status_code == HTTPStatus.OK
    return {rule.source_value for rule in response.context["cl"].result_list}


# --- rule list ---------------------------------------------------------------------------
def test_changelist_shows_targets_flags_and_tools(su_client: Client, world: dict) -> None:
    response = su_client.get(reverse(CHANGELIST))
    assert listed(response) == {rule.source_value for rule in world.values()}
    page = response.content.decode()
    assert "Project editors" in page
    assert "1 permission" in page
    assert "App-only" in page
    assert reverse(SIMULATE) in page
    assert reverse(IMPORT) in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("source_kind__exact=group", {GROUP_OID}),
        ("source_kind__exact=scope", {"access_as_user"}),
        ("is_active__exact=0", {"Legacy.Role"}),
        ("token_kinds__exact=app", {"Orders.Sync"}),
        ("grants_staff__exact=1", {"Portico.Ops"}),
        ("target=permissions", {"Orders.Read", "access_as_user"}),
        ("target=none", {"Portico.Ops", "Legacy.Role"}),
        ("target=group-EDITORS", {"Orders.Sync", GROUP_OID}),
        ("target=group-nonsense", set()),
        ("q=orders", {"Orders.Read", "Orders.Sync"}),  # value
        ("q=finance", {GROUP_OID}),  # label
        ("q=6f1c2d3e", {GROUP_OID}),
    ],
)
def test_changelist_filters_and_search(
    su_client: Client, world: dict, editors: Group, query: str, expected: set[str]
) -> None:
    query = query.replace("EDITORS", str(editors.pk))
    assert listed(su_client.get(f"{reverse(CHANGELIST)}?{query}")) == expected


def test_target_filter_offers_groups_in_use(su_client: Client, world: dict) -> None:
    Group.objects.create(name="Unused group")
    page = su_client.get(reverse(CHANGELIST)).content.decode()
    assert "Group: Project editors" in page
    assert "Unused group" not in page


def test_changelist_queries_do_not_grow_with_rules(
    su_client: Client, editors: Group, django_assert_max_num_queries: Any
) -> None:
    for index in range(4):
        stored_rule(
            SourceKind.APP_ROLE, f"Role.{index}", groups=[editors], perms=["projects.view_project"]
        )
    with django_assert_max_num_queries(20) as few:
        su_client.get(reverse(CHANGELIST))
    for index in range(4, 40):
        stored_rule(
            SourceKind.APP_ROLE, f"Role.{index}", groups=[editors], perms=["projects.view_project"]
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        su_client.get(reverse(CHANGELIST))


def test_permission_picker_is_a_filtered_widget(su_client: Client) -> None:
    page = su_client.get(reverse("admin:rbac_mappingrule_add")).content.decode()
    assert 'class="selectfilter"' in page or "selectfilter" in page
    assert "project | Can view project" in page


# --- audited writes ----------------------------------------------------------------------
def form_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "source_kind": SourceKind.APP_ROLE,
        "source_value": "Invoices.Approve",
        "label": "Invoice approvers",
        "token_kinds": TokenKinds.DELEGATED,
        "is_active": "on",
        "notes": "",
        "groups": [],
        "permissions": [],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def only_audit() -> MappingAudit:
    (entry,) = MappingAudit.objects.all()
    return entry


def test_admin_add_is_audited_with_targets(su_client: Client, superuser: Any, editors: Group):
    view = permission("projects.view_project")
    data = form_data(groups=[editors.pk], permissions=[view.pk], grants_staff="on")
    response = su_client.post(reverse("admin:rbac_mappingrule_add"), data)
    assert response.status_code == HTTPStatus.FOUND, response.context["adminform"].form.errors
    rule = MappingRule.objects.get(source_value="Invoices.Approve")
    entry = only_audit()
    assert (entry.action, entry.via, entry.actor, entry.rule_id) == (
        "create",
        "admin",
        superuser,
        rule.pk,
    )
    assert entry.before is None
    assert entry.after == rule_document(rule)
    assert entry.after["groups"] == ["Project editors"]
    assert entry.after["permissions"] == ["projects.view_project"]
    assert entry.after["grants_staff"] is True


def test_admin_change_records_before_and_after(su_client: Client, superuser: Any, editors: Group):
    rule = stored_rule(SourceKind.APP_ROLE, "Invoices.Approve", label="Old", groups=[editors])
    before = rule_document(rule)
    data = form_data(label="New", permissions=[permission("projects.view_project").pk], groups=[])
    url = reverse("admin:rbac_mappingrule_change", args=[rule.pk])
    assert su_client.post(url, data).status_code == HTTPStatus.FOUND
    entry = only_audit()
    assert (entry.action, entry.via, entry.actor) == ("update", "admin", superuser)
    assert entry.before == before
    assert entry.after == {
        **before,
        "label": "New",
        "groups": [],
        "permissions": ["projects.view_project"],
    }
    rule.refresh_from_db()
    assert rule.label == "New"
    assert [p.codename for p in rule.permissions.all()] == ["view_project"]


def test_admin_save_without_change_writes_no_audit(su_client: Client) -> None:
    rule = stored_rule(SourceKind.APP_ROLE, "Invoices.Approve", label="Invoice approvers")
    url = reverse("admin:rbac_mappingrule_change", args=[rule.pk])
    assert su_client.post(url, form_data()).status_code == HTTPStatus.FOUND
    assert not MappingAudit.objects.exists()


def test_admin_validation_errors_are_form_errors(su_client: Client) -> None:
    stored_rule(SourceKind.APP_ROLE, "Invoices.Approve")
    url = reverse("admin:rbac_mappingrule_add")
    duplicate = su_client.post(url, form_data())
    scope_for_apps = su_client.post(
        url, form_data(source_kind=SourceKind.SCOPE, source_value="x", token_kinds="app")
    )
    for response in (duplicate, scope_for_apps):
        assert response.status_code == HTTPStatus.OK
        assert response.context["adminform"].form.errors
    assert not MappingAudit.objects.exists()


def test_admin_delete_is_audited(su_client: Client, superuser: Any, editors: Group) -> None:
    rule = stored_rule(SourceKind.GROUP, GROUP_OID, label="Finance team", groups=[editors])
    before, rule_id = rule_document(rule), rule.pk
    url = reverse("admin:rbac_mappingrule_delete", args=[rule.pk])
    assert su_client.post(url, {"post": "yes"}).status_code == HTTPStatus.FOUND
    assert not MappingRule.objects.exists()
    entry = only_audit()
    assert (entry.action, entry.via, entry.actor, entry.rule_id) == (
        "delete",
        "admin",
        superuser,
        rule_id,
    )
    assert (entry.before, entry.after) == (before, None)


def test_bulk_delete_is_audited_per_rule(su_client: Client, world: dict) -> None:
    chosen = [world["reader"].pk, world["old"].pk]
    data = {"action": "delete_selected", "_selected_action": chosen, "post": "yes"}
    assert su_client.post(reverse(CHANGELIST), data).status_code == HTTPStatus.FOUND
    assert set(MappingAudit.objects.values_list("rule_id", "action", "via")) == {
        (pk, "delete", "admin") for pk in chosen
    }
    assert not MappingRule.objects.filter(pk__in=chosen).exists()


@pytest.mark.parametrize(("action", "active"), [("activate", True), ("deactivate", False)])
def test_bulk_activation_is_audited(
    su_client: Client, superuser: Any, world: dict, action: str, active: bool
) -> None:
    chosen = [world["reader"].pk, world["old"].pk]  # one of each state
    data = {"action": action, "_selected_action": chosen}
    response = su_client.post(reverse(CHANGELIST), data, follow=True)
    assert "(1 already" in response.content.decode()
    assert set(MappingRule.objects.filter(pk__in=chosen).values_list("is_active", flat=True)) == {
        active
    }
    entry = only_audit()
    assert (entry.action, entry.via, entry.actor) == ("update", "admin", superuser)
    assert (entry.before["is_active"], entry.after["is_active"]) == (not active, active)
    assert {**entry.before, "is_active": active} == entry.after


def test_view_only_staff_cannot_change_or_activate(staff_client: StaffClient, world: dict):
    client = staff_client("view_mappingrule")
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == HTTPStatus.OK
    assert reverse(SIMULATE) not in response.content.decode()
    assert reverse(IMPORT) not in response.content.decode()
    data = {"action": "activate", "_selected_action": [world["old"].pk]}
    client.post(reverse(CHANGELIST), data)
    world["old"].refresh_from_db()
    assert world["old"].is_active is False
    assert not MappingAudit.objects.exists()


# --- audit trail -------------------------------------------------------------------------
@pytest.fixture
def audited(su_client: Client, editors: Group) -> MappingRule:
    """A rule created, then changed, through the admin: two audit entries."""
    add = reverse("admin:rbac_mappingrule_add")
    su_client.post(add, form_data(groups=[editors.pk], label="Approvers"))
    rule = MappingRule.objects.get()
    change = reverse("admin:rbac_mappingrule_change", args=[rule.pk])
    view = permission("projects.view_project").pk
    su_client.post(change, form_data(label="Invoice approvers", groups=[], permissions=[view]))
    return rule


def test_audit_admin_is_read_only(su_client: Client, audited: MappingRule) -> None:
    entry = MappingAudit.objects.filter(action="update").get()
    change = reverse("admin:rbac_mappingaudit_change", args=[entry.pk])
    assert su_client.get(reverse("admin:rbac_mappingaudit_add")).status_code == HTTPStatus.FORBIDDEN
    page = su_client.get(change)
    assert page.status_code == HTTPStatus.OK
    assert 'name="_save"' not in page.content.decode()
    assert su_client.post(change, {"via": "forged"}).status_code == HTTPStatus.FORBIDDEN
    delete = reverse("admin:rbac_mappingaudit_delete", args=[entry.pk])
    assert su_client.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    changelist = su_client.get(reverse(AUDITS))
    assert "delete_selected" not in changelist.content.decode()
    assert MappingAudit.objects.filter(pk=entry.pk, via="admin").exists()


def test_audit_entry_shows_before_and_after(su_client: Client, audited: MappingRule) -> None:
    entry = MappingAudit.objects.filter(action="update").get()
    page = su_client.get(reverse("admin:rbac_mappingaudit_change", args=[entry.pk]))
    html = page.content.decode()
    assert '<div class="removed">\N{MINUS SIGN} Project editors</div>' in html
    assert '<div class="added">+ projects.view_project</div>' in html
    assert '<div class="removed">\N{MINUS SIGN} Approvers</div>' in html
    assert '<div class="added">+ Invoice approvers</div>' in html
    assert "<div>Invoices.Approve</div>" in html  # unchanged: shown plain


@pytest.mark.parametrize(
    ("query", "actions"),
    [
        ("action__exact=create", ["create"]),
        ("via__exact=admin", ["update", "create"]),
        ("via__exact=api", []),
        ("q=invoice", ["update", "create"]),  # rule_repr
        ("q=root", ["update", "create"]),  # actor
        ("q=nobody", []),
    ],
)
def test_audit_changelist_filters(
    su_client: Client, audited: MappingRule, query: str, actions: list[str]
) -> None:
    response = su_client.get(f"{reverse(AUDITS)}?{query}")
    assert [entry.action for entry in response.context["cl"].result_list] == actions


def test_audit_changelist_names_changed_fields(su_client: Client, audited: MappingRule) -> None:
    html = su_client.get(reverse(AUDITS)).content.decode()
    assert "label, groups, permissions" in html
    assert "created" in html


def test_rule_page_links_to_its_audit_entries(su_client: Client, audited: MappingRule) -> None:
    other = stored_rule(SourceKind.SCOPE, "other")
    page = su_client.get(reverse("admin:rbac_mappingrule_change", args=[audited.pk]))
    link = f"{reverse(AUDITS)}?rule_id={audited.pk}"
    assert link in page.content.decode()
    assert "All 2 changes" in page.content.decode()
    entries = su_client.get(link).context["cl"].result_list
    assert {entry.rule_id for entry in entries} == {audited.pk} != {other.pk}


def test_rule_page_hides_audit_entries_from_those_who_may_not_read_them(
    staff_client: StaffClient, audited: MappingRule
) -> None:
    page = staff_client("view_mappingrule", "change_mappingrule").get(
        reverse("admin:rbac_mappingrule_change", args=[audited.pk])
    )
    assert page.status_code == HTTPStatus.OK
    assert reverse(AUDITS) not in page.content.decode()


def test_audit_of_a_deleted_rule_stays_readable(su_client: Client, audited: MappingRule) -> None:
    su_client.post(reverse("admin:rbac_mappingrule_delete", args=[audited.pk]), {"post": "yes"})
    html = su_client.get(reverse(AUDITS)).content.decode()
    assert "(deleted)" in html
    assert MappingAudit.objects.count() == 3


def test_staff_may_read_the_audit_with_view_permission_only(staff_client: StaffClient, audited):
    client = staff_client("view_mappingaudit")
    assert client.get(reverse(AUDITS)).status_code == HTTPStatus.OK
    entry = MappingAudit.objects.first()
    change = reverse("admin:rbac_mappingaudit_change", args=[entry.pk])
    assert client.get(change).status_code == HTTPStatus.OK


# --- simulator ---------------------------------------------------------------------------
def unsigned_token(payload: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "x"}).encode())
    return f"{header}.{b64url(json.dumps(payload).encode())}.{b64url(b'not-a-signature')}"


CLAIMS = {
    "roles": ["Orders.Read", "Orders.Sync", "Legacy.Role", "Unknown.Role"],
    "groups": [GROUP_OID],
    "scp": "access_as_user profile",
    "preferred_username": "ada@example.com",
}


def simulate(client: Client, source: str) -> Any:
    return client.post(reverse(SIMULATE), {"source": source})


@pytest.mark.parametrize("as_token", [False, True], ids=["claims-json", "token"])
def test_simulator_shows_matches_permissions_and_flags(
    su_client: Client, world: dict, as_token: bool
) -> None:
    source = unsigned_token(CLAIMS) if as_token else json.dumps(CLAIMS)
    response = simulate(su_client, f"Bearer {source}" if as_token else source)
    assert response.status_code == HTTPStatus.OK
    result = response.context["result"]
    assert result["token_kind"] == "delegated"
    assert result["subject"] == "ada@example.com"
    assert result["input_kind"].startswith("token" if as_token else "claims")
    assert [rule["value"] for rule in result["rules"]] == [
        "Orders.Read",
        GROUP_OID,
        "access_as_user",
    ]  # by id; Orders.Sync is for app-only tokens
    assert [p for p, _ in result["permissions"]] == [
        "projects.add_project",
        "projects.change_project",
        "projects.view_project",
    ]
    assert (result["is_staff"], result["is_superuser"]) == (False, False)
    reasons = {row["value"]: row["reason"] for row in result["unmatched"]}
    assert reasons == {
        "Legacy.Role": "its rule is inactive",
        "Orders.Sync": "its rule applies to app-only (daemons) only",
        "Unknown.Role": "no rule",
        "profile": "no rule",
    }
    html = response.content.decode()
    assert reverse("admin:rbac_mappingrule_change", args=[world["reader"].pk]) in html
    assert "Can view project" in html


def test_simulator_shows_an_app_token_is_never_staff(su_client: Client, world: dict) -> None:
    claims = {"idtyp": "app", "roles": ["Orders.Sync", "Portico.Ops", "Orders.Read"]}
    result = simulate(su_client, json.dumps(claims)).context["result"]
    assert result["token_kind"] == "app"
    assert result["subject"] == ""  # not the placeholder ids the simulation fills in
    assert [rule["value"] for rule in result["rules"]] == ["Orders.Sync", "Portico.Ops"]
    assert result["is_staff"] is False  # Portico.Ops grants staff, but never to a daemon
    reasons = {row["value"]: row["reason"] for row in result["unmatched"]}
    assert reasons == {"Orders.Read": "its rule applies to delegated (users) only"}


def test_simulator_reports_groups_overage(su_client: Client, world: dict) -> None:
    claims = {"scp": "x", "groups": [GROUP_OID], "hasgroups": True}
    result = simulate(su_client, json.dumps(claims)).context["result"]
    assert result["groups_overage"] is True
    assert result["rules"] == []
    assert "overage" in result["unmatched"][0]["reason"]


def test_simulator_page_says_tokens_are_not_verified(su_client: Client) -> None:
    response = su_client.get(reverse(SIMULATE))
    assert response.status_code == HTTPStatus.OK
    assert "without being" in response.content.decode()
    assert "verified" in response.content.decode()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('{"roles": ["a"', "not valid JSON"),
        ("[1, 2]", "neither a JSON object nor a token"),
        ("hello", "three dot-separated parts"),
        ("a.%%%.c", "not base64url JSON"),
        ("e30.WzFd.c2ln", "not a JSON object"),  # payload [1]
        ('{"roles": "Orders.Read"}', "roles must be a list of strings"),
        ('{"groups": [1, 2]}', "groups must be a list of strings"),
        ('{"scp": ["a"]}', "scp must be a space-separated string"),
        ("", "This field is required"),
        ('{"roles": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    ],
)
def test_simulator_refuses_bad_input_with_a_form_error(
    su_client: Client, source: str, message: str
) -> None:
    response = simulate(su_client, source)
    assert response.status_code == HTTPStatus.OK
    assert response.context["result"] is None
    errors = " ".join(response.context["form"].errors.get("source", []))
    assert message in errors
    assert "errornote" in response.content.decode()


def test_simulator_needs_the_simulate_permission(staff_client: StaffClient) -> None:
    client = staff_client("view_mappingrule", "change_mappingrule")
    assert client.get(reverse(SIMULATE)).status_code == HTTPStatus.FORBIDDEN
    assert simulate(client, "{}").status_code == HTTPStatus.FORBIDDEN


def test_simulator_open_to_staff_with_the_permission(staff_client: StaffClient) -> None:
    client = staff_client("view_mappingrule", "simulate_mappingrule")
    assert reverse(SIMULATE) in client.get(reverse(CHANGELIST)).content.decode()
    assert simulate(client, '{"scp": "x"}').status_code == HTTPStatus.OK


def test_simulator_requires_admin_login(client: Client) -> None:
    response = client.get(reverse(SIMULATE))
    assert response.status_code == HTTPStatus.FOUND
    assert reverse("admin:login") in response["Location"]


# --- manifest import ---------------------------------------------------------------------
def app_role(value: str | None, members: list[str], **extra: Any) -> dict[str, Any]:
    role = {
        "allowedMemberTypes": members,
        "description": f"Lets callers {value}",
        "displayName": f"{value} role",
        "id": "5b2e7a1c-0000-4000-8000-000000000001",
        "isEnabled": True,
        "value": value,
    }
    role.update(extra)
    return {key: item for key, item in role.items() if item is not None}


MANIFEST = {
    "appId": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
    "appRoles": [
        app_role("Orders.Read", ["User"]),
        app_role("Orders.Sync", ["Application"]),
        app_role("Orders.Admin", ["User", "Application"]),
        app_role("Orders.Old", ["User"], isEnabled=False),
    ],
}


def import_manifest(client: Client, document: Any, *, upload: bool = False) -> Any:
    text = document if isinstance(document, str) else json.dumps(document)
    if upload:
        data = {"manifest_file": SimpleUploadedFile("manifest.json", ("\ufeff" + text).encode())}
    else:
        data = {"manifest_text": text}
    return client.post(reverse(IMPORT), data, follow=True)


@pytest.mark.parametrize("upload", [False, True], ids=["pasted", "uploaded"])
def test_manifest_import_creates_inactive_skeletons(
    su_client: Client, superuser: Any, upload: bool
) -> None:
    response = import_manifest(su_client, MANIFEST, upload=upload)
    assert response.status_code == HTTPStatus.OK
    rules = {r.source_value: r for r in MappingRule.objects.all()}
    assert {value: r.token_kinds for value, r in rules.items()} == {
        "Orders.Read": TokenKinds.DELEGATED,
        "Orders.Sync": TokenKinds.APP,
        "Orders.Admin": TokenKinds.BOTH,
    }
    read = rules["Orders.Read"]
    assert (read.source_kind, read.label, read.notes) == (
        SourceKind.APP_ROLE,
        "Orders.Read role",
        "Lets callers Orders.Read",
    )
    assert not any(r.is_active or r.grants_staff or r.grants_superuser for r in rules.values())
    assert not any(r.groups.exists() or r.permissions.exists() for r in rules.values())
    audits = MappingAudit.objects.all()
    assert {(a.action, a.via, a.actor) for a in audits} == {("create", "admin", superuser)}
    assert len(audits) == 3
    html = response.content.decode()
    assert "Created 3 inactive rule(s)" in html
    assert "disabled in Entra: Orders.Old" in html
    assert response.redirect_chain[-1][0].endswith("source_kind__exact=app_role&is_active__exact=0")


def test_manifest_import_skips_existing_values(su_client: Client) -> None:
    kept = stored_rule(SourceKind.APP_ROLE, "Orders.Read", label="Edited", is_active=True)
    stored_rule(SourceKind.GROUP, "Orders.Sync")  # same value, other kind: not a clash
    response = import_manifest(su_client, MANIFEST)
    assert "Skipped, already mapped: Orders.Read." in response.content.decode()
    kept.refresh_from_db()
    assert (kept.label, kept.is_active) == ("Edited", True)
    created = MappingAudit.objects.values_list("after__source_value", flat=True)
    assert sorted(created) == ["Orders.Admin", "Orders.Sync"]
    again = import_manifest(su_client, MANIFEST)
    assert "nothing was created" in again.content.decode()
    assert MappingAudit.objects.count() == 2


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            {**MANIFEST, "appRoles": [*MANIFEST["appRoles"], app_role(None, ["User"])]},
            "appRoles[4].value is missing.",
        ),
        ({"appId": "x"}, "appRoles is missing."),
        ('{"appRoles": [', "not valid JSON"),
        ("[]", "The manifest must be a JSON object."),
    ],
)
def test_bad_manifest_changes_nothing(su_client: Client, document: Any, problem: str) -> None:
    response = import_manifest(su_client, document)
    assert response.status_code == HTTPStatus.OK
    assert problem in response.content.decode()
    assert "Nothing was imported" in response.content.decode()
    assert not MappingRule.objects.exists()
    assert not MappingAudit.objects.exists()


def test_manifest_form_needs_exactly_one_input(su_client: Client) -> None:
    upload = SimpleUploadedFile("manifest.json", json.dumps(MANIFEST).encode())
    both = su_client.post(reverse(IMPORT), {"manifest_text": "{}", "manifest_file": upload})
    neither = su_client.post(reverse(IMPORT), {})
    for response in (both, neither):
        assert "one of them" in response.content.decode()
    assert not MappingRule.objects.exists()


def test_manifest_import_needs_the_add_permission(staff_client: StaffClient) -> None:
    client = staff_client("view_mappingrule", "change_mappingrule")
    assert client.get(reverse(IMPORT)).status_code == HTTPStatus.FORBIDDEN
    assert import_manifest(client, MANIFEST).status_code == HTTPStatus.FORBIDDEN
    assert not MappingRule.objects.exists()


@pytest.mark.parametrize(
    ("roles", "problems"),
    [
        ("nope", ["appRoles must be a list."]),
        (["x"], ["appRoles[0] must be an object."]),
        ([app_role("", ["User"])], ["appRoles[0].value must not be empty."]),
        ([app_role(" A", ["User"])], ["appRoles[0].value must have no outer spaces"]),
        ([{**app_role("A", ["User"]), "value": 7}], ["appRoles[0].value must be a string."]),
        ([app_role("A", [])], ["appRoles[0].allowedMemberTypes must be a non-empty list"]),
        ([app_role("A", ["Robot"])], ["appRoles[0].allowedMemberTypes has unknown"]),
        ([app_role("A", ["User"], isEnabled="yes")], ["appRoles[0].isEnabled must be true"]),
        ([app_role("A", ["User"], displayName=3)], ["appRoles[0].displayName must be a string"]),
        (
            [app_role("A", ["User"]), app_role("B", ["User"]), app_role("A", ["Application"])],
            ["appRoles[2].value 'A' repeats appRoles[0]."],
        ),
        (
            [app_role(None, ["User"]), app_role("B", ["Robot"])],
            ["appRoles[0].value is missing.", "appRoles[1].allowedMemberTypes has unknown"],
        ),
    ],
)
def test_parse_app_roles_names_each_problem(roles: Any, problems: list[str]) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_app_roles({"appRoles": roles})
    assert len(caught.value.problems) == len(problems)
    for found, expected in zip(caught.value.problems, problems, strict=True):
        assert found.startswith(expected)


def test_parse_app_roles_reads_a_real_manifest_shape() -> None:
    roles = parse_app_roles(MANIFEST)
    assert [(r.value, r.token_kinds, r.is_enabled) for r in roles] == [
        ("Orders.Read", TokenKinds.DELEGATED, True),
        ("Orders.Sync", TokenKinds.APP, True),
        ("Orders.Admin", TokenKinds.BOTH, True),
        ("Orders.Old", TokenKinds.DELEGATED, False),
    ]
    assert parse_app_roles({"appRoles": []}) == ()


def test_admin_pages_inline_styles_carry_the_csp_nonce(su_client: Client, world: dict) -> None:
    """The strict CSP (no 'unsafe-inline') would block an inline <style> without it."""
    response = su_client.get(reverse(SIMULATE))
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    styles = re.findall(r"<style([^>]*)>", response.content.decode())
    assert styles
    assert all(f'nonce="{nonce}"' in attributes for attributes in styles)
