"""The OpenAPI schema and Swagger UI: public, secret-free, derived from the views' classes.

What an operation requires (token kind, scopes, app roles, Django permissions) is read from
the permission classes that enforce it; these tests pin that derivation, the security
schemes pointing at the configured authority, the documented error responses, and a Swagger
UI that needs neither a CDN nor an inline script or style.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import path as url
from drf_spectacular.management.commands.spectacular import SchemaGenerationError
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.views import APIView

from apps.api.openapi.access import access_for
from apps.api.permissions import (
    RequireAppOnlyToken,
    require_app_roles,
    require_permissions,
    require_scopes,
)
from tests.conftest import API_CLIENT_ID, SPA_CLIENT_ID, TENANT, portico_settings_for

AUTHORITY = "https://login.example.test"
SCOPE = f"api://{API_CLIENT_ID}/access_as_user"
SECRET = "s3cr3t-value-that-must-never-be-published"
PUBLIC = {"/api/health", "/api/ready"}


@pytest.fixture
def configured(settings: Any) -> None:
    """An Entra-like configuration with secrets set, to prove they never reach the docs."""
    settings.PORTICO = portico_settings_for(
        AUTHORITY,
        ENTRA_CLIENT_SECRET=SECRET,
        DEV_WEB_CLIENT_SECRET=SECRET,
        ENTRA_DEVTOOLS_CLIENT_ID="",
    )


@pytest.fixture
def schema(client: Any, configured: None) -> dict[str, Any]:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == HTTPStatus.OK
    return response.json()


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]


def test_schema_generation_has_no_warnings(tmp_path: Path) -> None:
    """``manage.py spectacular --validate --fail-on-warn``: valid OpenAPI, nothing guessed."""
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
        stderr=StringIO(),
    )
    assert "paths:" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.parametrize(
    "url", ["/api/schema/", "/api/docs/", "/api/docs/?script=", "/api/docs/oauth2-redirect.html"]
)
def test_docs_are_public_and_publish_no_secret(
    client: Any, configured: None, settings: Any, url: str
) -> None:
    response = client.get(url)
    assert response.status_code == HTTPStatus.OK
    body = response.content.decode()
    assert SECRET not in body
    assert settings.SECRET_KEY not in body


def test_oauth2_scheme_targets_the_configured_authority_with_the_spa_scopes(
    schema: dict[str, Any],
) -> None:
    schemes = schema["components"]["securitySchemes"]
    flow = schemes["entra"]["flows"]["authorizationCode"]
    assert flow["authorizationUrl"] == f"{AUTHORITY}/{TENANT}/oauth2/v2.0/authorize"
    assert flow["tokenUrl"] == f"{AUTHORITY}/{TENANT}/oauth2/v2.0/token"
    assert list(flow["scopes"]) == [SCOPE]
    assert schemes["session"]["in"] == "cookie"  # the browsable API's signed-in session
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearer"]["description"],
    }


def test_every_api_operation_states_its_access_and_documents_its_errors(
    schema: dict[str, Any],
) -> None:
    for path, method, operation in operations(schema):
        access = operation["x-portico-access"]
        assert "**Access:**" in operation["description"], (method, path)
        if path in PUBLIC:
            assert operation["security"] == [{}]
            assert access["authenticated"] is False
            continue
        assert access["authenticated"] is True, (method, path)
        assert operation["security"][:2] == [{"entra": [SCOPE]}, {"bearer": []}]
        for code in ("400", "401", "403", "503"):
            error = operation["responses"][code]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (method, path, code)
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
        assert "Retry-After" in operation["responses"]["503"]["headers"]
        if "{" in path:
            assert "404" in operation["responses"], (method, path)


def test_error_body_is_detail_and_code(schema: dict[str, Any]) -> None:
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "detail"]
    assert set(error["properties"]) == {"detail", "code", "reason", "required"}


@pytest.mark.parametrize(
    ("method", "path", "permissions"),
    [
        ("get", "/api/me", []),
        ("get", "/api/projects/", ["projects.view_project"]),
        ("post", "/api/projects/", ["projects.add_project"]),
        ("patch", "/api/projects/{id}/", ["projects.change_project"]),
        ("delete", "/api/projects/{id}/", ["projects.delete_project"]),
        ("put", "/api/rbac/mappings/{id}/", ["rbac.change_mappingrule"]),
        ("get", "/api/rbac/permissions/", ["rbac.view_mappingrule"]),
        ("post", "/api/rbac/simulate/", ["rbac.simulate_mappingrule"]),
    ],
)
def test_django_permissions_are_read_from_the_permission_classes(
    schema: dict[str, Any], method: str, path: str, permissions: list[str]
) -> None:
    operation = schema["paths"][path][method]
    assert operation["x-portico-access"]["permissions"] == permissions
    assert operation["x-portico-access"]["token_kinds"] == ["delegated", "app"]
    for permission in permissions:
        assert f"`{permission}`" in operation["description"]


def guarded(*permission_classes: Any) -> APIView:
    view = APIView()
    view.permission_classes = list(permission_classes)
    return view


def test_scope_classes_make_an_operation_delegated_only() -> None:
    access = access_for(guarded(require_scopes("Orders.Read", "Orders.Write")), "GET")
    assert access.token_kinds == ("delegated",)
    assert access.scopes == {"Orders.Read or Orders.Write"}
    assert access_for(guarded(require_scopes("A", "B", all_of=True)), "GET").scopes == {"A", "B"}


def test_app_role_and_token_kind_classes_make_an_operation_app_only() -> None:
    access = access_for(guarded(require_app_roles("Portico.Read"), RequireAppOnlyToken), "GET")
    assert access.token_kinds == ("app",)
    assert access.app_roles == {"Portico.Read"}
    assert "`Portico.Read`" in access.as_markdown()


def test_composed_classes_add_up_their_requirements() -> None:
    composed = require_scopes("access_as_user") & require_permissions("projects.view_project")
    access = access_for(guarded(composed), "GET")
    assert access.scopes == {"access_as_user"}
    assert access.permissions == {"projects.view_project"}
    assert not access.unknown


def test_a_scope_an_operation_names_is_requested_by_its_full_name(settings: Any) -> None:
    from apps.api.openapi.auth import requested_scopes
    from apps.core.conf import portico_settings

    settings.PORTICO = portico_settings_for(AUTHORITY)
    assert requested_scopes(portico_settings(), {"Orders.Read"}) == [
        f"api://{API_CLIENT_ID}/Orders.Read",
        SCOPE,
    ]


def test_an_unknown_permission_class_is_reported_not_guessed() -> None:
    assert access_for(guarded(IsAdminUser), "GET").unknown == {"IsAdminUser"}
    assert access_for(guarded(AllowAny), "GET").as_markdown().startswith("**Access:** public")


def test_a_view_with_an_undescribable_permission_class_fails_schema_generation(
    settings: Any, tmp_path: Path, capsys: Any
) -> None:
    """A new kind of permission class must teach ``access.py`` how to document it."""
    settings.ROOT_URLCONF = __name__
    with pytest.raises(SchemaGenerationError):
        test_schema_generation_has_no_warnings(tmp_path)
    assert "cannot describe permission classes ['IsAdminUser']" in capsys.readouterr().err


class AdminOnlyView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(responses={200: None})
    def get(self, request: Any) -> Any:
        raise NotImplementedError


urlpatterns = [url("api/admins-only", AdminOnlyView.as_view())]


# --- Swagger UI --------------------------------------------------------------------------


def test_swagger_page_has_no_inline_script_or_style_and_no_cdn(client: Any) -> None:
    response = client.get("/api/docs/")
    html = response.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert " style=" not in html
    assert re.findall(r"""(?:src|href)=["']https?://""", html) == []
    assert 'src="/api/docs/?script="' in html
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', html):
        assert finders.find(asset), asset  # served by this app, from drf-spectacular-sidecar
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert '<script src="/static/openapi/oauth2-relay.js">' in html


def test_swagger_script_signs_in_with_pkce_as_the_configured_client(
    client: Any, configured: None
) -> None:
    response = client.get("/api/docs/?script=")
    script = response.content.decode()
    assert response["Content-Type"] == "application/javascript"
    assert response["Cache-Control"] == "no-store"
    assert f'"clientId": "{SPA_CLIENT_ID}"' in script
    assert '"usePkceWithAuthorizationCodeGrant": true' in script
    assert f'"{SCOPE}"' in script
    assert '"oauth2RedirectUrl": "http://testserver/api/docs/oauth2-redirect.html"' in script


def test_a_developer_tools_client_id_replaces_the_spas(
    client: Any, settings: Any, configured: None
) -> None:
    settings.PORTICO = {**settings.PORTICO, "ENTRA_DEVTOOLS_CLIENT_ID": "tools-client"}
    assert '"clientId": "tools-client"' in client.get("/api/docs/?script=").content.decode()


def test_oauth2_redirect_page_relays_without_inline_script_and_leaks_no_code(
    client: Any,
) -> None:
    response = client.get("/api/docs/oauth2-redirect.html?code=abc&state=xyz")
    html = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert '<script src="/static/openapi/oauth2-redirect.js">' in html
    assert '<meta name="referrer" content="no-referrer">' in html
    assert "abc" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []


# --- configuration ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "errors"), [("", []), (SPA_CLIENT_ID, []), ("swagger", ["api.E001"])]
)
def test_a_devtools_client_id_must_be_a_guid(settings: Any, value: str, errors: list[str]) -> None:
    from apps.api.openapi.checks import check_devtools_client

    settings.PORTICO = portico_settings_for(AUTHORITY, ENTRA_DEVTOOLS_CLIENT_ID=value)
    found = check_devtools_client()
    assert [error.id for error in found] == errors
    assert all("ENTRA_DEVTOOLS_CLIENT_ID" in error.msg for error in found)


def test_the_devtools_check_is_registered() -> None:
    from django.core.checks import registry

    from apps.api.openapi.checks import check_devtools_client

    assert check_devtools_client in registry.registry.get_checks()
