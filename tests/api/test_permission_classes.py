"""The small DRF permission classes (apps/api/permissions.py), composed as views compose them.

Each refusal must be a 403 ``insufficient_scope`` whose challenge names what was required
and whose body names what was missing; a request without a token stays a 401.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.permissions import (
    RequireAppOnlyToken,
    RequireDelegatedToken,
    require_app_roles,
    require_permissions,
    require_scopes,
)
from apps.rbac.models import SourceKind, TokenKinds
from tests.conftest import bearer

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.urls(__name__),
    pytest.mark.usefixtures("fresh_rules"),
]


def view(*permission_classes: Any) -> Any:
    class Guarded(APIView):
        def get(self, request: Request) -> Response:
            return Response({"ok": True})

    Guarded.permission_classes = list(permission_classes)
    return Guarded.as_view()


urlpatterns = [
    path("any-scope", view(require_scopes("Orders.Read", "Orders.Write"))),
    path("all-scopes", view(require_scopes("Orders.Read", "Orders.Write", all_of=True))),
    path("app-role", view(require_app_roles("Orders.Sync"))),
    path("delegated", view(RequireDelegatedToken)),
    path("app-only", view(RequireAppOnlyToken)),
    path("perm", view(require_permissions("projects.view_project", "projects.add_project"))),
    path("either", view(require_scopes("Orders.Admin") | require_app_roles("Orders.Sync"))),
    path("both", view(RequireDelegatedToken & require_permissions("projects.view_project"))),
]


def call(client: Any, url: str, token: str | None = None) -> Any:
    return client.get(f"/{url}", **(bearer(token) if token else {}))


def assert_insufficient(response: Any, *, required: list[str]) -> None:
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "insufficient_scope"
    assert response.json()["required"] == required
    challenge = response["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in challenge
    assert f'scope="{" ".join(required)}"' in challenge


def test_any_of_scopes_needs_one_of_them(client, token_factory):
    assert (
        call(client, "any-scope", token_factory(claims={"scp": "Orders.Write"})).status_code
        == HTTPStatus.OK
    )
    refused = call(client, "any-scope", token_factory(claims={"scp": "access_as_user"}))
    assert_insufficient(refused, required=["Orders.Read", "Orders.Write"])


def test_all_of_scopes_names_only_the_missing_ones(client, token_factory):
    both = token_factory(claims={"scp": "Orders.Read Orders.Write"})
    assert call(client, "all-scopes", both).status_code == HTTPStatus.OK
    refused = call(client, "all-scopes", token_factory(claims={"scp": "Orders.Read"}))
    assert_insufficient(refused, required=["Orders.Write"])


def test_scopes_match_exactly_never_by_prefix_or_case(client, token_factory):
    refused = call(client, "any-scope", token_factory(claims={"scp": "orders.read Orders.ReadAll"}))
    assert refused.status_code == HTTPStatus.FORBIDDEN


def test_an_app_role_counts_only_in_an_app_only_token(client, token_factory):
    daemon = token_factory(app=True, claims={"roles": ["Orders.Sync"]})
    user = token_factory(claims={"roles": ["Orders.Sync"]})
    assert call(client, "app-role", daemon).status_code == HTTPStatus.OK
    refused = call(client, "app-role", user)
    assert_insufficient(refused, required=["Orders.Sync"])
    assert "app token" in refused.json()["detail"]


def test_token_kind_classes_admit_their_kind_only(client, token_factory):
    user, daemon = token_factory(), token_factory(app=True, claims={"roles": ["Any"]})
    assert call(client, "delegated", user).status_code == HTTPStatus.OK
    assert call(client, "app-only", daemon).status_code == HTTPStatus.OK
    assert call(client, "delegated", daemon).json()["detail"] == (
        "This endpoint needs a delegated token"
    )
    assert call(client, "app-only", user).status_code == HTTPStatus.FORBIDDEN


def test_missing_mapped_permissions_are_named_in_the_body_and_challenge(
    client, token_factory, make_rule
):
    make_rule(SourceKind.APP_ROLE, "Reader", perms=["projects.view_project"])
    refused = call(client, "perm", token_factory(claims={"roles": ["Reader"]}))
    assert_insufficient(refused, required=["projects.add_project"])
    assert "projects.add_project" in refused.json()["detail"]


def test_composed_classes_or_and_and(client, token_factory, make_rule):
    make_rule(
        SourceKind.APP_ROLE, "Reader", perms=["projects.view_project"], token_kinds=TokenKinds.BOTH
    )
    admin_user = token_factory(claims={"scp": "Orders.Admin"})
    daemon = token_factory(app=True, claims={"roles": ["Orders.Sync", "Reader"]})
    reader = token_factory(claims={"roles": ["Reader"]})
    assert call(client, "either", admin_user).status_code == HTTPStatus.OK
    assert call(client, "either", daemon).status_code == HTTPStatus.OK
    assert call(client, "either", reader).status_code == HTTPStatus.FORBIDDEN
    assert call(client, "both", reader).status_code == HTTPStatus.OK
    assert call(client, "both", daemon).status_code == HTTPStatus.FORBIDDEN


def test_no_token_is_a_401_challenge_not_a_403(client):
    response = call(client, "perm")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer ")
    assert "error=" not in response["WWW-Authenticate"]
