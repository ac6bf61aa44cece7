"""The auth backends: Django's own permission API answers from the current token's mappings.

``request.user.has_perm``, ``get_all_permissions``, ``has_module_perms``, DRF's
``DjangoModelPermissions`` and ``admin.site.has_permission`` are asked exactly as Django and
DRF ask them; local break-glass accounts keep ``ModelBackend`` semantics, and an Entra
principal gets nothing from what is stored on its row. A warm request that checks a mapped
permission costs no database query. This module doubles as the URLconf of its test views.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.contrib import admin
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.test import RequestFactory
from django.urls import include, path
from rest_framework.permissions import DjangoModelPermissions, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.api.permissions import require_permissions
from apps.entra_auth.models import User
from apps.projects.models import Project
from apps.rbac.authentication import MappedEntraAuthentication
from apps.rbac.models import SourceKind, TokenKinds
from tests.conftest import USER_OID, FakeEntra, bearer, permission, portico_settings_for

VIEW, ADD, CHANGE, DELETE = (
    f"projects.{action}_project" for action in ("view", "add", "change", "delete")
)
PASSWORD = "correct horse battery staple 42"


# --- test views and their URLconf (``@pytest.mark.urls(__name__)``) ------------------------
class ProjectsView(APIView):
    """Plain ``DjangoModelPermissions``: POST add, PUT/PATCH change, DELETE delete."""

    queryset = Project.objects.none()
    permission_classes = [DjangoModelPermissions]

    def get(self, request: Request) -> Response:
        return Response({"permissions": sorted(request.user.get_all_permissions())})

    def post(self, request: Request) -> Response:
        return Response({"done": "post"}, status=HTTPStatus.CREATED)

    def put(self, request: Request) -> Response:
        return Response({"done": "put"})

    patch = put

    def delete(self, request: Request) -> Response:
        return Response(status=HTTPStatus.NO_CONTENT)


class GuardedView(APIView):
    """A GET that needs the mapped permission view_project, and asks about another one."""

    permission_classes = [IsAuthenticated & require_permissions(VIEW)]

    def get(self, request: Request) -> Response:
        return Response({"can_change": request.user.has_perm(CHANGE)})


urlpatterns = [
    path("t/projects", ProjectsView.as_view()),
    path("t/guarded", GuardedView.as_view()),
    path("", include("config.urls")),
]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_rules")]


# --- helpers -------------------------------------------------------------------------------
def token_user(token: str) -> tuple[User, HttpRequest]:
    """``request.user`` as the DRF edge builds it for ``token``, and its Django request."""
    request = Request(APIRequestFactory().get("/admin/", **bearer(token)))
    result = MappedEntraAuthentication().authenticate(request)
    assert result is not None
    user, _claims = result
    django_request = request._request
    django_request.user = user
    return user, django_request


# --- has_perm, get_all_permissions, has_module_perms ----------------------------------------
def test_permission_api_answers_from_the_tokens_mappings(token_factory, make_rule):
    editors = Group.objects.create(name="Project editors")
    editors.permissions.add(permission(CHANGE))
    make_rule(SourceKind.APP_ROLE, "Projects.Editor", perms=[VIEW], groups=(editors,))

    user, _ = token_user(token_factory(claims={"roles": ["Projects.Editor"]}))

    assert user.has_perm(VIEW)
    assert user.has_perm(CHANGE)  # through the rule's target group
    assert not user.has_perm(DELETE)
    assert user.has_perms([VIEW, CHANGE])
    assert not user.has_perms([VIEW, DELETE])
    assert user.get_all_permissions() == {VIEW, CHANGE}
    assert user.has_module_perms("projects")
    assert not user.has_module_perms("rbac")
    assert not user.has_module_perms("auth")
    assert not user.has_perm(VIEW, obj=Project(name="x"))  # no object-level mapping
    assert user.get_all_permissions(obj=Project(name="x")) == set()
    assert not user.groups.exists()  # the grant is not a membership


def test_permission_api_for_another_token_of_the_same_user(token_factory, make_rule):
    make_rule(SourceKind.APP_ROLE, "Projects.Editor", perms=[VIEW, CHANGE])
    editor, _ = token_user(token_factory(claims={"roles": ["Projects.Editor"]}))
    plain, _ = token_user(token_factory(claims={"roles": ["Projects.Nothing"]}))
    assert editor.pk == plain.pk  # same (tid, oid), separate per-request objects
    assert editor.get_all_permissions() == {VIEW, CHANGE}
    assert plain.get_all_permissions() == set()
    assert not plain.has_perm(VIEW)
    assert not plain.has_module_perms("projects")


def test_a_superuser_rule_answers_yes_to_every_permission(token_factory, make_rule):
    make_rule(SourceKind.APP_ROLE, "Portico.Root", grants_superuser=True)
    user, _ = token_user(token_factory(claims={"roles": ["Portico.Root"]}))
    assert user.is_superuser
    assert user.has_perm(DELETE)
    assert user.has_module_perms("rbac")


# --- DRF DjangoModelPermissions ----------------------------------------------------------------
@pytest.mark.urls(__name__)
@pytest.mark.parametrize(
    ("method", "needed", "status"),
    [
        ("post", ADD, HTTPStatus.CREATED),
        ("put", CHANGE, HTTPStatus.OK),
        ("patch", CHANGE, HTTPStatus.OK),
        ("delete", DELETE, HTTPStatus.NO_CONTENT),
    ],
)
def test_django_model_permissions_follow_the_mappings(
    client, token_factory, make_rule, method, needed, status
):
    make_rule(SourceKind.APP_ROLE, "Projects.Writer", perms=[needed])
    # Every other project permission, but not the one this method needs.
    make_rule(SourceKind.APP_ROLE, "Projects.AllBut", perms={VIEW, ADD, CHANGE, DELETE} - {needed})
    send = getattr(client, method)

    allowed = send("/t/projects", **bearer(token_factory(claims={"roles": ["Projects.Writer"]})))
    denied = send("/t/projects", **bearer(token_factory(claims={"roles": ["Projects.AllBut"]})))
    unmapped = send("/t/projects", **bearer(token_factory(claims={"roles": ["Projects.None"]})))

    assert allowed.status_code == status
    assert denied.status_code == HTTPStatus.FORBIDDEN
    assert unmapped.status_code == HTTPStatus.FORBIDDEN


@pytest.mark.urls(__name__)
def test_django_model_permissions_read_and_anonymous(client, token_factory, make_rule):
    make_rule(SourceKind.SCOPE, "Projects.Read", perms=[VIEW])
    token = token_factory(claims={"scp": "access_as_user Projects.Read"})
    response = client.get("/t/projects", **bearer(token))
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"permissions": [VIEW]}
    assert client.post("/t/projects").status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.urls(__name__)
def test_a_daemon_is_authorised_by_its_app_only_rule(client, token_factory, make_rule):
    make_rule(SourceKind.APP_ROLE, "Projects.Sync", perms=[ADD], token_kinds=TokenKinds.APP)
    daemon = token_factory(app=True, claims={"roles": ["Projects.Sync"]})
    user = token_factory(claims={"roles": ["Projects.Sync"]})  # same value, a person
    assert client.post("/t/projects", **bearer(daemon)).status_code == HTTPStatus.CREATED
    assert client.post("/t/projects", **bearer(user)).status_code == HTTPStatus.FORBIDDEN


# --- the admin site ------------------------------------------------------------------------
def test_admin_site_access_follows_the_staff_flag_of_the_rules(token_factory, make_rule):
    make_rule(SourceKind.GROUP, "5d2a1c2e-8f7b-4c1a-9e3d-2b6f0a4c8e11", grants_staff=True)
    make_rule(SourceKind.APP_ROLE, "Groups.Viewer", perms=["auth.view_group"])
    staff_token = token_factory(
        claims={"groups": ["5d2a1c2e-8f7b-4c1a-9e3d-2b6f0a4c8e11"], "roles": ["Groups.Viewer"]}
    )

    staff, staff_request = token_user(staff_token)
    viewer, viewer_request = token_user(token_factory(claims={"roles": ["Groups.Viewer"]}))

    assert admin.site.has_permission(staff_request) is True
    assert admin.site.has_permission(viewer_request) is False
    # Inside the admin, the mapped permissions decide what it shows.
    apps = {app["app_label"]: app for app in admin.site.get_app_list(staff_request)}
    assert [model["object_name"] for model in apps["auth"]["models"]] == ["Group"]
    assert apps["auth"]["models"][0]["perms"] == {
        "add": False,
        "change": False,
        "delete": False,
        "view": True,
    }
    assert (staff.is_staff, viewer.is_staff) == (True, False)


def test_admin_site_for_the_bootstrap_admin_role(settings, entra: FakeEntra, token_factory):
    settings.PORTICO = portico_settings_for(entra.authority, RBAC_ADMIN_ROLE="Portico.Admin")
    _, person = token_user(token_factory(claims={"roles": ["Portico.Admin"]}))
    _, daemon = token_user(token_factory(app=True, claims={"roles": ["Portico.Admin"]}))
    _, lookalike = token_user(token_factory(claims={"roles": ["portico.admin"]}))
    assert admin.site.has_permission(person) is True
    assert person.user.has_perm("rbac.change_mappingrule")
    assert admin.site.has_permission(daemon) is False  # a daemon is never staff
    assert daemon.user.has_perm("rbac.change_mappingrule")
    assert admin.site.has_permission(lookalike) is False


# --- local accounts and stored permissions -----------------------------------------------------
def test_a_local_superuser_keeps_model_backend_semantics():
    User.objects.create_superuser("root", "root@example.com", PASSWORD)
    root = authenticate(username="root", password=PASSWORD)
    assert root is not None
    assert authenticate(username="root", password="wrong") is None
    assert root.has_perm(DELETE)
    assert root.has_module_perms("rbac")
    assert {VIEW, "rbac.change_mappingrule"} <= root.get_all_permissions()
    request = RequestFactory().get("/admin/")
    request.user = root
    assert admin.site.has_permission(request) is True


def test_a_session_restores_the_user_through_the_first_backend(client, admin_user):
    """pytest-django's ``admin_client`` (``force_login`` without naming a backend) works."""
    client.force_login(admin_user)
    response = client.get("/admin/")
    assert response.status_code == HTTPStatus.OK
    assert response.wsgi_request.user == admin_user


def test_an_inactive_user_is_not_restored_from_a_session(client, admin_user):
    client.force_login(admin_user)
    User.objects.filter(pk=admin_user.pk).update(is_active=False)
    assert client.get("/admin/").status_code == HTTPStatus.FOUND  # to the login page


def test_a_local_account_gets_its_stored_and_group_permissions():
    clerk = User.objects.create_user("clerk", "clerk@example.com", PASSWORD, is_staff=True)
    clerk.user_permissions.add(permission(VIEW))
    editors = Group.objects.create(name="Project editors")
    editors.permissions.add(permission(CHANGE))
    clerk.groups.add(editors)

    clerk = authenticate(username="clerk", password=PASSWORD)
    assert clerk is not None
    assert clerk.get_all_permissions() == {VIEW, CHANGE}
    assert clerk.has_perm(CHANGE)
    assert not clerk.has_perm(DELETE)
    assert clerk.has_module_perms("projects")
    assert not clerk.has_module_perms("rbac")


def test_an_entra_principal_gets_nothing_from_its_stored_row(client, token_factory, make_rule):
    """An admin editing the row of an Entra user (permissions, groups, staff flag, password)
    gives the token nothing: rights come from the mappings of the token in hand."""
    make_rule(SourceKind.APP_ROLE, "Projects.Reader", perms=[VIEW])
    token = token_factory(claims={"roles": ["Projects.Reader"]})
    first, _ = token_user(token)
    row = User.objects.get(pk=first.pk)
    row.user_permissions.add(permission(DELETE))
    row.groups.add(Group.objects.create(name="Hand-made"))
    row.groups.get().permissions.add(permission(CHANGE))
    row.is_staff = True
    row.set_password(PASSWORD)
    row.save()

    user, request = token_user(token_factory(claims={"roles": ["Projects.Reader"]}))

    assert (user.pk, user.entra_object_id) == (row.pk, USER_OID)
    assert user.get_all_permissions() == {VIEW}
    assert not user.has_perm(DELETE)
    assert not user.has_perm(CHANGE)
    assert user.is_staff is False
    assert admin.site.has_permission(request) is False
    assert authenticate(username=row.username, password=PASSWORD) is None  # no local login
    fresh = User.objects.get(pk=row.pk)  # the row itself, as admin would load it
    assert not fresh.has_perm(DELETE)
    assert fresh.get_all_permissions() == set()


# --- no database query on a warm request -------------------------------------------------------
@pytest.mark.urls(__name__)
def test_a_warm_request_checking_a_mapped_permission_costs_no_query(
    client, token_factory, make_rule, django_assert_num_queries
):
    make_rule(SourceKind.APP_ROLE, "Projects.Reader", perms=[VIEW])
    make_rule(SourceKind.GROUP, "5d2a1c2e-8f7b-4c1a-9e3d-2b6f0a4c8e11", perms=[CHANGE])
    token = token_factory(
        claims={"roles": ["Projects.Reader"], "groups": ["5d2a1c2e-8f7b-4c1a-9e3d-2b6f0a4c8e11"]}
    )
    cold = client.get("/t/guarded", **bearer(token))  # keys, user and rules are loaded here
    assert cold.status_code == HTTPStatus.OK

    with django_assert_num_queries(0):
        warm = client.get("/t/guarded", **bearer(token))

    assert warm.status_code == HTTPStatus.OK
    assert warm.json() == {"can_change": True}


@pytest.mark.urls(__name__)
def test_warm_denials_and_model_permissions_cost_no_query(
    client, token_factory, make_rule, django_assert_num_queries
):
    make_rule(SourceKind.APP_ROLE, "Projects.Writer", perms=[ADD])
    writer = token_factory(claims={"roles": ["Projects.Writer"]})
    other = token_factory(claims={"roles": ["Projects.Other"]})
    for token in (writer, other):  # cold
        client.post("/t/projects", **bearer(token))

    with django_assert_num_queries(0):
        allowed = client.post("/t/projects", **bearer(writer))
        denied = client.post("/t/projects", **bearer(other))
        forbidden_get = client.get("/t/guarded", **bearer(writer))

    assert allowed.status_code == HTTPStatus.CREATED
    assert denied.status_code == HTTPStatus.FORBIDDEN
    assert forbidden_get.status_code == HTTPStatus.FORBIDDEN
