from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("api/", include("apps.api.urls")),
    path("admin/", admin.site.urls),
    # Answers 404 unless the dev issuer is enabled (checked per request, so tests can flip it).
    path("dev-issuer/", include("apps.dev_issuer.urls")),
]
