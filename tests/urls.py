"""Test URLconf: the real one plus spy views that record whether they ran."""

from django.urls import include, path
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.permissions import require_app_roles, require_scopes

CALLS: list[str] = []


class ScopeSpyView(APIView):
    """Requires the delegated scope access_as_user (the spec's base endpoint)."""

    permission_classes = [require_scopes("access_as_user")]

    def get(self, request):
        CALLS.append("scope")
        return Response({"ok": True})

    post = get


class AppRoleSpyView(APIView):
    """Requires an app-only token with the app role Portico.Read."""

    permission_classes = [require_app_roles("Portico.Read")]

    def get(self, request):
        CALLS.append("app")
        return Response({"ok": True})


urlpatterns = [
    path("api/spy", ScopeSpyView.as_view()),
    path("api/spy-app", AppRoleSpyView.as_view()),
    path("", include("config.urls")),
]
