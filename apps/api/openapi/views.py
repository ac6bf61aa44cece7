"""Swagger UI under a strict CSP: no inline script or style, assets from this origin.

``SpectacularSwaggerSplitView`` already serves its init script as a separate file; the
OAuth2 settings in that script come from ``PORTICO`` per request (so tests and each
environment get their own authority, client id and scopes), and the page's inline
``<style>`` is dropped. Both pages are public documentation and carry no secret.

The sign-in pop-up answers through a same-origin ``BroadcastChannel``
(``static/openapi/oauth2-*.js``) rather than ``window.opener``, so both pages keep Django's
``Cross-Origin-Opener-Policy: same-origin``, which severs the opener as soon as the pop-up
visits the authority.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response

from apps.core.conf import portico_settings


def swagger_oauth2_config() -> dict[str, Any]:
    """``ui.initOAuth(...)``: the public client Swagger UI signs in with, PKCE, scopes."""
    conf = portico_settings()
    return {
        "clientId": conf.entra_devtools_client_id or conf.entra_spa_client_id,
        "scopes": list(conf.entra_spa_scopes),
        "usePkceWithAuthorizationCodeGrant": True,
        "appName": "Portico API docs",
    }


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """``/api/docs/``: Swagger UI; ``?script`` is its init script (a separate file)."""

    url_name = "api:schema"
    template_name = "openapi/swagger_ui.html"
    title = "Portico API"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.GET.get("script") is None:
            return super().get(request, *args, **kwargs)
        redirect = request.build_absolute_uri(reverse("api:docs-oauth2-redirect"))
        return Response(
            data={
                "schema_url": self._get_schema_url(request),
                "settings": self._dump(
                    {**spectacular_settings.SWAGGER_UI_SETTINGS, "oauth2RedirectUrl": redirect}
                ),
                "oauth2_config": self._dump(swagger_oauth2_config()),
                "csrf_header_name": self._get_csrf_header_name(),
                "schema_auth_names": self._dump(self._get_schema_auth_names()),
            },
            template_name=self.template_name_js,
            content_type="application/javascript",
            headers={"Cache-Control": "no-store"},  # carries the CSRF token
        )


@require_GET
def oauth2_redirect(request: HttpRequest) -> HttpResponse:
    """Where the authority sends the pop-up back; its script relays the code to the docs."""
    response = render(request, "openapi/oauth2_redirect.html")
    response["Cache-Control"] = "no-store"
    return response
