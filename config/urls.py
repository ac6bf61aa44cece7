from django.contrib import admin
from django.urls import include, path

from apps.signin.explain_view import explain_token_view

urlpatterns = [
    path("api/", include("apps.api.urls")),
    # Before admin.site.urls, whose catch-all would swallow it; staff + permission inside.
    path(
        "admin/explain-token/",
        admin.site.admin_view(explain_token_view),
        name="admin-explain-token",
    ),
    path("admin/", admin.site.urls),
    path("signin/", include("apps.signin.urls")),
    # Answers 404 unless the dev issuer is enabled (checked per request, so tests can flip it).
    path("dev-issuer/", include("apps.dev_issuer.urls")),
    # /config.json and the SPA shell; last, because the shell answers every other path.
    path("", include("frontend_config.urls")),
]

handler404 = "apps.core.errors.not_found"
handler500 = "apps.core.errors.server_error"
