"""The sample domain (/api/projects/) and ``manage.py seed_demo``, persona by persona.

The rules are the ones ``seed_demo`` writes, so what is tested is what a newcomer sees with
the dev personas: readers read, editors write but do not delete, admins do everything, a
daemon with ``Portico.Read`` reads, and a user carrying that same value gets nothing.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.projects.models import Project
from apps.rbac.models import MappingAudit, MappingRule, TokenKinds
from tests.conftest import USER_OID, bearer, portico_settings_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rules")]

PROJECTS = "/api/projects/"


@pytest.fixture
def seeded(entra: Any, django_capture_on_commit_callbacks: Any) -> None:
    """``seed_demo`` as ``make run`` runs it; the version bump runs as after a commit."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo")


def persona(token_factory: Any, *roles: str, app: bool = False) -> dict[str, str]:
    return bearer(token_factory(app=app, claims={"roles": list(roles)}))


@pytest.fixture
def reader(seeded: None, token_factory: Any) -> dict[str, str]:
    return persona(token_factory, "Portico.Reader")


@pytest.fixture
def editor(seeded: None, token_factory: Any) -> dict[str, str]:
    return persona(token_factory, "Portico.Editor")


@pytest.fixture
def admin(seeded: None, token_factory: Any) -> dict[str, str]:
    return persona(token_factory, "Portico.Admin")


def send(client: Any, method: str, url: str, auth: dict[str, str], body: Any = None) -> Any:
    return getattr(client, method)(
        url, data=json.dumps(body or {}), content_type="application/json", **auth
    )


def assert_refused(response: Any, missing: str) -> None:
    """403 ``insufficient_scope`` naming the missing permission (the SPA shows it)."""
    assert response.status_code == HTTPStatus.FORBIDDEN, response.content
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="portico", error="insufficient_scope", scope="{missing}"'
    )
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["required"] == [missing]
    assert missing in body["detail"]


def names(response: Any) -> list[str]:
    assert response.status_code == HTTPStatus.OK, response.content
    return [project["name"] for project in response.json()]


# --- personas ------------------------------------------------------------------------------
def test_reader_lists_and_retrieves_but_cannot_create(client, reader):
    assert names(client.get(PROJECTS, **reader)) == ["Apollo", "Borealis", "Cassini"]
    apollo = Project.objects.get(name="Apollo")
    response = client.get(f"{PROJECTS}{apollo.pk}/", **reader)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["description"] == apollo.description

    assert_refused(send(client, "post", PROJECTS, reader, {"name": "Dune"}), "projects.add_project")
    url = f"{PROJECTS}{apollo.pk}/"
    assert_refused(send(client, "patch", url, reader, {"name": "X"}), "projects.change_project")
    assert not Project.objects.filter(name__in=["Dune", "X"]).exists()


def test_editor_creates_and_updates_but_cannot_delete(client, editor):
    response = send(client, "post", PROJECTS, editor, {"name": "Dune", "description": "Sand"})
    assert response.status_code == HTTPStatus.CREATED, response.content
    assert response.json()["created_by"] == "Test User"
    dune = Project.objects.get(name="Dune")
    assert dune.created_by.entra_object_id == USER_OID

    url = f"{PROJECTS}{dune.pk}/"
    response = send(client, "patch", url, editor, {"is_archived": True})
    assert response.status_code == HTTPStatus.OK
    response = send(client, "put", url, editor, {"name": "Dune II", "description": ""})
    assert response.status_code == HTTPStatus.OK
    dune.refresh_from_db()
    assert (dune.name, dune.is_archived, dune.description) == ("Dune II", True, "")

    assert_refused(client.delete(url, **editor), "projects.delete_project")
    assert Project.objects.filter(pk=dune.pk).exists()


def test_admin_deletes(client, admin):
    apollo = Project.objects.get(name="Apollo")
    assert client.delete(f"{PROJECTS}{apollo.pk}/", **admin).status_code == HTTPStatus.NO_CONTENT
    assert not Project.objects.filter(pk=apollo.pk).exists()


def test_a_token_without_mapped_roles_cannot_even_list(client, seeded, token_factory):
    assert_refused(client.get(PROJECTS, **persona(token_factory)), "projects.view_project")


def test_a_daemon_with_portico_read_lists(client, seeded, token_factory):
    daemon = persona(token_factory, "Portico.Read", app=True)
    assert names(client.get(PROJECTS, **daemon)) == ["Apollo", "Borealis", "Cassini"]
    assert_refused(send(client, "post", PROJECTS, daemon, {"name": "Dune"}), "projects.add_project")


def test_a_user_carrying_the_daemons_role_value_gets_nothing(client, seeded, token_factory):
    """Token-kind restriction: the Portico.Read rule is app-only."""
    user = persona(token_factory, "Portico.Read")
    assert_refused(client.get(PROJECTS, **user), "projects.view_project")


def test_without_a_token_it_is_401(client, seeded):
    response = client.get(PROJECTS)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == 'Bearer realm="portico"'


def test_a_warm_list_costs_only_the_project_query(client, reader, django_assert_num_queries):
    assert names(client.get(PROJECTS, **reader))  # cold: key, user and rules are loaded
    with django_assert_num_queries(1) as captured:
        assert names(client.get(PROJECTS, **reader)) == ["Apollo", "Borealis", "Cassini"]
    assert 'FROM "projects_project"' in captured.captured_queries[0]["sql"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Apollo"}, "name"),  # unique
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"description": "no name"}, "name"),
    ],
)
def test_bad_input_is_a_400_with_field_messages(client, editor, body, field):
    count = Project.objects.count()
    response = send(client, "post", PROJECTS, editor, body)
    assert response.status_code == HTTPStatus.BAD_REQUEST, response.content
    assert response.json()["detail"][field]
    assert Project.objects.count() == count


# --- seed_demo -----------------------------------------------------------------------------
def counts() -> dict[str, int]:
    return {
        "groups": Group.objects.count(),
        "rules": MappingRule.objects.count(),
        "audits": MappingAudit.objects.count(),
        "projects": Project.objects.count(),
        "group_permissions": Group.permissions.through.objects.count(),
        "rule_groups": MappingRule.groups.through.objects.count(),
    }


def test_seed_demo_creates_the_demo_and_is_idempotent(entra, capsys):
    call_command("seed_demo")
    first = counts()
    call_command("seed_demo")
    assert counts() == first
    assert first == {
        "groups": 3,
        "rules": 4,
        "audits": 4,
        "projects": 3,
        "group_permissions": 1 + 3 + 4,
        "rule_groups": 4,
    }
    assert set(MappingAudit.objects.values_list("via", flat=True)) == {"seed"}
    assert "0 rule(s) and 0 project(s) created" in capsys.readouterr().out

    rules = {rule.source_value: rule for rule in MappingRule.objects.all()}
    assert all(rule.is_active for rule in rules.values())
    assert rules["Portico.Read"].token_kinds == TokenKinds.APP
    assert rules["Portico.Admin"].grants_staff
    assert [g.name for g in rules["Portico.Admin"].groups.all()] == ["Project admins"]


def test_seed_demo_keeps_what_an_admin_changed(entra):
    call_command("seed_demo")
    MappingRule.objects.filter(source_value="Portico.Reader").update(is_active=False)
    call_command("seed_demo")
    assert not MappingRule.objects.get(source_value="Portico.Reader").is_active


@pytest.mark.parametrize("env", ["uat", "prod"])
def test_seed_demo_refuses_outside_dev_unless_forced(settings, env):
    settings.PORTICO = portico_settings_for("https://login.microsoftonline.com", ENV=env)
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo")
    assert counts()["rules"] == 0
    call_command("seed_demo", "--force")
    assert counts()["rules"] == 4
