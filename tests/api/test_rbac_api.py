"""The RBAC API for automation (issue 3): /api/rbac/mappings/, permissions/ and simulate/.

Callers get their rights the way everyone does: a mapping rule (written here through
``apps.rbac.services``) or ``PORTICO_RBAC_ADMIN_ROLE``. Every write must validate as the model
does, answer 400 (never 500) on bad input without changing anything, and leave an audit entry
with ``via="api"`` and the caller as actor.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission

from apps.rbac.models import MappingAudit, MappingRule, SourceKind, TokenKinds
from apps.rbac.resolution import RBAC_ADMIN_PERMISSIONS
from tests.conftest import USER_OID, MakeRule, b64url, bearer, portico_settings_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rules")]

MAPPINGS = "/api/rbac/mappings/"
PERMISSIONS = "/api/rbac/permissions/"
SIMULATE = "/api/rbac/simulate/"
AUTOMATION_ROLE = "Portico.RbacAutomation"
ROLE = SourceKind.APP_ROLE  # what most rules here map
VIEW, ADD = "projects.view_project", "projects.add_project"


@pytest.fixture
def automation(token_factory: Any, make_rule: MakeRule) -> dict[str, str]:
    """Test-client kwargs for a caller whose app role a rule maps to every RBAC permission."""
    make_rule(ROLE, AUTOMATION_ROLE, perms=sorted(RBAC_ADMIN_PERMISSIONS))
    return bearer(token_factory(claims={"roles": [AUTOMATION_ROLE]}))


def caller(token_factory: Any, *roles: str) -> dict[str, str]:
    return bearer(token_factory(claims={"roles": list(roles)}))


def send(client: Any, method: str, url: str, auth: dict[str, str], body: Any = None) -> Any:
    data = {} if body is None or method == "get" else {"data": json.dumps(body)}
    return getattr(client, method)(url, content_type="application/json", **data, **auth)


def assert_refused(response: Any, *missing: str) -> None:
    """403 ``insufficient_scope``, naming the missing permissions in challenge and body."""
    assert response.status_code == HTTPStatus.FORBIDDEN, response.content
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="portico", error="insufficient_scope", scope="{" ".join(missing)}"'
    )
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["required"] == list(missing)
    assert body["detail"]


def rule_body(**overrides: Any) -> dict[str, Any]:
    return {
        "source_kind": "app_role",
        "source_value": "Orders.Read",
        "label": "Order readers",
        "token_kinds": "delegated",
        "groups": ["Order clerks"],
        "permissions": ["projects.view_project"],
        **overrides,
    }


@pytest.fixture
def clerks() -> Group:
    return Group.objects.create(name="Order clerks")


def state() -> tuple[list[dict[str, Any]], int]:
    """Every rule (as documented) and the audit count: "nothing changed" compares these."""
    from apps.rbac.documents import rule_document

    return [rule_document(r) for r in MappingRule.objects.all()], MappingAudit.objects.count()


def refused_unchanged(write: Callable[[], Any], field: str, message: str) -> Any:
    """``write()`` is answered 400 with ``message`` under ``field`` and changes nothing."""
    before = state()
    response = write()
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert message in response.json()["detail"][field]
    assert state() == before
    return response


# --- mappings: happy paths -----------------------------------------------------------------
def test_create_validates_writes_through_the_service_and_audits(client, automation, clerks):
    response = send(client, "post", MAPPINGS, automation, rule_body(notes="for the shop"))

    assert response.status_code == HTTPStatus.CREATED, response.content
    rule = MappingRule.objects.get(source_value="Orders.Read")
    assert response.json() == {
        "id": rule.pk,
        "source_kind": "app_role",
        "source_value": "Orders.Read",
        "label": "Order readers",
        "token_kinds": "delegated",
        "groups": ["Order clerks"],
        "permissions": ["projects.view_project"],
        "grants_staff": False,
        "grants_superuser": False,
        "is_active": True,
        "notes": "for the shop",
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
    }
    audit = MappingAudit.objects.get(rule_id=rule.pk)
    assert (audit.action, audit.via, audit.before) == ("create", "api", None)
    assert audit.actor.entra_object_id == USER_OID
    assert audit.after["permissions"] == ["projects.view_project"]
    assert audit.after["groups"] == ["Order clerks"]


def test_list_retrieve_and_filters(client, automation, make_rule):
    make_rule(ROLE, "Orders.Read", label="Order readers")
    make_rule(ROLE, "Orders.Write", is_active=False, notes="paused")
    make_rule(SourceKind.SCOPE, "orders-scope")

    def values(query: str = "") -> list[str]:
        response = client.get(f"{MAPPINGS}{query}", **automation)
        assert response.status_code == HTTPStatus.OK, response.content
        return [rule["source_value"] for rule in response.json()]

    assert values() == ["Orders.Read", "Orders.Write", AUTOMATION_ROLE, "orders-scope"]
    assert values("?source_kind=scope") == ["orders-scope"]
    assert values("?is_active=false") == ["Orders.Write"]
    assert values("?is_active=true&source_kind=app_role") == ["Orders.Read", AUTOMATION_ROLE]
    assert values("?search=reader") == ["Orders.Read"]  # label, case-insensitive
    assert values("?search=paused") == ["Orders.Write"]  # notes
    assert values("?token_kinds=app") == []

    rule = MappingRule.objects.get(source_value="Orders.Read")
    response = client.get(f"{MAPPINGS}{rule.pk}/", **automation)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["label"] == "Order readers"
    assert response.json()["permissions"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [("?is_active=maybe", "is_active"), ("?source_kind=role", "source_kind")],
)
def test_a_bad_filter_is_a_400_naming_it(client, automation, query, field):
    response = client.get(f"{MAPPINGS}{query}", **automation)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert field in response.json()["detail"]


def test_put_replaces_and_patch_changes_only_what_is_sent(client, automation, make_rule, clerks):
    rule = make_rule(ROLE, "Orders.Read", label="Orders.Read", perms=[VIEW])
    url = f"{MAPPINGS}{rule.pk}/"

    response = send(
        client, "patch", url, automation, {"label": "Readers", "groups": ["Order clerks"]}
    )
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["permissions"] == ["projects.view_project"]  # untouched
    assert response.json()["groups"] == ["Order clerks"]

    body = rule_body(permissions=["projects.add_project"], groups=[], is_active=False)
    response = send(client, "put", url, automation, body)
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["permissions"] == ["projects.add_project"]
    assert response.json()["groups"] == []
    assert response.json()["is_active"] is False

    audits = list(MappingAudit.objects.filter(rule_id=rule.pk, via="api").order_by("id"))
    assert [a.action for a in audits] == ["update", "update"]
    assert audits[0].before["label"] == "Orders.Read"
    assert audits[0].after["label"] == "Readers"
    assert audits[1].before["permissions"] == ["projects.view_project"]
    assert audits[1].after["permissions"] == ["projects.add_project"]
    assert {a.actor.entra_object_id for a in audits} == {USER_OID}


def test_an_update_that_changes_nothing_writes_no_audit(client, automation, make_rule):
    rule = make_rule(ROLE, "Orders.Read", label="Orders.Read")
    response = send(client, "patch", f"{MAPPINGS}{rule.pk}/", automation, {"label": "Orders.Read"})
    assert response.status_code == HTTPStatus.OK
    assert not MappingAudit.objects.filter(via="api").exists()


def test_delete_is_audited(client, automation, make_rule):
    rule = make_rule(ROLE, "Orders.Read", perms=[VIEW])
    response = client.delete(f"{MAPPINGS}{rule.pk}/", **automation)
    assert response.status_code == HTTPStatus.NO_CONTENT
    assert not MappingRule.objects.filter(pk=rule.pk).exists()
    audit = MappingAudit.objects.get(rule_id=rule.pk, action="delete")
    assert audit.via == "api"
    assert audit.actor.entra_object_id == USER_OID
    assert audit.before["permissions"] == ["projects.view_project"]
    assert audit.after is None


def test_a_rule_written_through_the_api_takes_effect_on_the_next_request(
    client, token_factory, automation, committed
):
    daemon = bearer(token_factory(app=True, claims={"roles": ["Projects.Sync"]}))
    assert client.get("/api/projects/", **daemon).status_code == HTTPStatus.FORBIDDEN
    body = rule_body(source_value="Projects.Sync", token_kinds="app", groups=[])
    with committed():
        assert send(client, "post", MAPPINGS, automation, body).status_code == HTTPStatus.CREATED
    assert client.get("/api/projects/", **daemon).status_code == HTTPStatus.OK


# --- mappings: validation ------------------------------------------------------------------
# id: (what is wrong in the body, the field named, its message)
INVALID: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown-permission": (
        {"permissions": ["projects.view_project", "projects.fly_project"]},
        "permissions",
        "Unknown permission: projects.fly_project",
    ),
    "malformed-permission": (
        {"permissions": ["view_project"]},
        "permissions",
        'Expected "app_label.codename", got "view_project"',
    ),
    "unknown-group": ({"groups": ["Order clerks", "Nobody"]}, "groups", "Unknown group: Nobody"),
    "outer-spaces-not-trimmed": (
        {"source_value": " Orders.Read"},
        "source_value",
        "Must be non-empty, without outer spaces.",
    ),
    "model-clean": (
        {"source_kind": "scope", "token_kinds": "app"},
        "token_kinds",
        "Scopes only appear in delegated tokens: choose delegated.",
    ),
    "bad-choice": ({"source_kind": "role"}, "source_kind", '"role" is not a valid choice.'),
    "duplicate": (
        {"source_value": "Existing.Role"},
        "non_field_errors",
        "Mapping rule with this Source kind and Source value already exists.",
    ),
}


@pytest.mark.parametrize(("change", "field", "message"), INVALID.values(), ids=INVALID.keys())
def test_create_refuses_bad_input_with_field_messages_and_changes_nothing(
    client, automation, make_rule, clerks, change, field, message
):
    make_rule(ROLE, "Existing.Role")
    post = partial(send, client, "post", MAPPINGS, automation, rule_body(**change))
    response = refused_unchanged(post, field, message)
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize(("change", "field", "message"), INVALID.values(), ids=INVALID.keys())
def test_update_refuses_bad_input_and_changes_nothing(
    client, automation, make_rule, clerks, change, field, message
):
    make_rule(ROLE, "Existing.Role")
    rule = make_rule(ROLE, "Orders.Read", perms=[VIEW])
    patch = partial(send, client, "patch", f"{MAPPINGS}{rule.pk}/", automation, change)
    refused_unchanged(patch, field, message)


def test_a_duplicate_that_slips_past_validation_is_still_a_400(
    client, automation, make_rule, clerks, monkeypatch
):
    """Two concurrent creates both pass full_clean; the database constraint decides."""
    make_rule(ROLE, "Orders.Read")
    monkeypatch.setattr(MappingRule, "validate_constraints", lambda self, exclude=None: None)
    before = state()
    response = send(client, "post", MAPPINGS, automation, rule_body())
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["detail"]["non_field_errors"] == [
        "A rule for this source already exists."
    ]
    assert state() == before


# --- permissions of the API itself ---------------------------------------------------------
VIEW_RULES = ["rbac.view_mappingrule"]


@pytest.mark.parametrize(
    ("method", "url", "held", "missing"),
    [
        ("get", MAPPINGS, [], "rbac.view_mappingrule"),
        ("get", "{rule}", [], "rbac.view_mappingrule"),
        ("post", MAPPINGS, VIEW_RULES, "rbac.add_mappingrule"),
        ("put", "{rule}", VIEW_RULES, "rbac.change_mappingrule"),
        ("patch", "{rule}", VIEW_RULES, "rbac.change_mappingrule"),
        ("delete", "{rule}", VIEW_RULES, "rbac.delete_mappingrule"),
        ("get", PERMISSIONS, [], "rbac.view_mappingrule"),
        ("post", SIMULATE, VIEW_RULES, "rbac.simulate_mappingrule"),
    ],
)
def test_each_endpoint_names_the_permission_it_lacks(
    client, token_factory, make_rule, clerks, method, url, held, missing
):
    """A reader of rules may not write them; the 403 says which permission is missing."""
    rule = make_rule(ROLE, "Orders.Read")
    make_rule(ROLE, "Rules.Reader", perms=held)
    url = url.format(rule=f"{MAPPINGS}{rule.pk}/")
    before = state()
    body = {"claims": {}} if url == SIMULATE else rule_body()
    response = send(client, method, url, caller(token_factory, "Rules.Reader"), body)
    assert_refused(response, missing)
    assert state() == before


def test_without_a_token_the_api_answers_401(client):
    for url in (MAPPINGS, PERMISSIONS):
        response = client.get(url)
        assert response.status_code == HTTPStatus.UNAUTHORIZED
        assert response["WWW-Authenticate"] == 'Bearer realm="portico"'
    assert client.post(SIMULATE).status_code == HTTPStatus.UNAUTHORIZED


def test_a_daemon_can_be_granted_the_api_by_an_app_only_rule(client, token_factory, make_rule):
    make_rule(
        SourceKind.APP_ROLE,
        "Rbac.Sync",
        perms=["rbac.view_mappingrule"],
        token_kinds=TokenKinds.APP,
    )
    daemon = bearer(token_factory(app=True, claims={"roles": ["Rbac.Sync"]}))
    assert client.get(MAPPINGS, **daemon).status_code == HTTPStatus.OK
    user = caller(token_factory, "Rbac.Sync")  # same value, delegated: not for users
    assert_refused(client.get(MAPPINGS, **user), "rbac.view_mappingrule")


@pytest.mark.parametrize("app", [False, True], ids=["user", "daemon"])
def test_the_rbac_admin_role_grants_the_api_without_any_rule(
    client, token_factory, settings, entra, app
):
    settings.PORTICO = portico_settings_for(entra.authority, RBAC_ADMIN_ROLE="Portico.Admin")
    assert not MappingRule.objects.exists()
    auth = bearer(token_factory(app=app, claims={"roles": ["Portico.Admin"]}))

    assert client.get(MAPPINGS, **auth).status_code == HTTPStatus.OK
    assert client.get(PERMISSIONS, **auth).status_code == HTTPStatus.OK
    simulated = send(client, "post", SIMULATE, auth, {"claims": {"roles": ["Portico.Admin"]}})
    assert simulated.json()["admin_role"] is True
    body = rule_body(groups=[])
    assert send(client, "post", MAPPINGS, auth, body).status_code == HTTPStatus.CREATED
    assert MappingAudit.objects.get().via == "api"

    other = bearer(token_factory(claims={"roles": ["Portico.Administrator"]}))  # exact only
    assert_refused(client.get(MAPPINGS, **other), "rbac.view_mappingrule")


# --- permissions catalogue -----------------------------------------------------------------
def test_permissions_lists_what_can_be_granted(client, automation):
    response = client.get(PERMISSIONS, **automation)
    assert response.status_code == HTTPStatus.OK
    listed = {row["permission"]: row for row in response.json()}
    assert len(listed) == Permission.objects.count()
    assert listed["rbac.simulate_mappingrule"] == {
        "permission": "rbac.simulate_mappingrule",
        "name": "Can run the mapping simulator",
        "content_type": "rbac.mappingrule",
    }


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        (
            "projects.",
            [
                "projects.add_project",
                "projects.change_project",
                "projects.delete_project",
                "projects.view_project",
            ],
        ),
        ("projects.dele", ["projects.delete_project"]),
        ("SIMULATOR", ["rbac.simulate_mappingrule"]),
    ],
)
def test_permissions_search(client, automation, search, expected):
    response = client.get(PERMISSIONS, {"search": search}, **automation)
    assert [row["permission"] for row in response.json()] == expected


# --- simulator -----------------------------------------------------------------------------
def test_simulate_claims(client, automation, make_rule):
    rule = make_rule(
        SourceKind.APP_ROLE,
        "Orders.Read",
        label="Orders.Read",
        perms=[VIEW],
        grants_staff=True,
    )
    make_rule(
        SourceKind.APP_ROLE,
        "Orders.Export",
        perms=[ADD],
        token_kinds=TokenKinds.APP,
    )
    claims = {"roles": ["Orders.Read", "Orders.Export"], "scp": "access_as_user"}

    response = send(client, "post", SIMULATE, automation, {"claims": claims})

    assert response.status_code == HTTPStatus.OK, response.content
    assert response["Cache-Control"] == "no-store"
    assert response.json() == {
        "token_type": "delegated",
        "matched_rules": [
            {
                "id": rule.pk,
                "kind": "app_role",
                "value": "Orders.Read",
                "label": "Orders.Read",
                "permissions": ["projects.view_project"],
                "grants_staff": True,
                "grants_superuser": False,
            }
        ],
        "permissions": ["projects.view_project"],
        "is_staff": True,
        "is_superuser": False,
        "admin_role": False,
        "groups_overage": False,
        "unmatched": [
            {"kind": "app_role", "value": "Orders.Export"},  # an app-only rule
            {"kind": "scope", "value": "access_as_user"},
        ],
    }


def test_simulate_an_untrusted_token(client, automation, make_rule):
    """Decoded without any check: the signature here is garbage and it still explains."""
    make_rule(
        SourceKind.APP_ROLE,
        "Orders.Export",
        perms=[ADD],
        token_kinds=TokenKinds.APP,
    )
    payload = {"roles": ["Orders.Export"], "idtyp": "app", "azp": "some-daemon"}
    token = f"{b64url(b'{}')}.{b64url(json.dumps(payload).encode())}.not-a-signature"
    response = send(client, "post", SIMULATE, automation, {"token": token})
    assert response.status_code == HTTPStatus.OK, response.content
    assert response.json()["token_type"] == "app"
    assert response.json()["permissions"] == ["projects.add_project"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "non_field_errors", 'Send exactly one of "claims" or "token".'),
        ({"claims": {}, "token": "a.b.c"}, "non_field_errors", "exactly one"),
        ({"claims": ["Orders.Read"]}, "claims", "dictionary"),
        ({"claims": {"roles": "Orders.Read"}}, "claims", "roles must be a list of strings."),
        ({"claims": {"scp": ["a"]}}, "claims", "scp must be a space-separated string."),
        ({"token": "not-a-token"}, "token", "A token has three dot-separated parts."),
        ({"token": "a.!!!.c"}, "token", "not base64url JSON"),
    ],
)
def test_simulate_bad_input_is_a_400(client, automation, body, field, message):
    response = send(client, "post", SIMULATE, automation, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert message in " ".join(response.json()["detail"][field])
