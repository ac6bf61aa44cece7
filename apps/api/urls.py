from django.urls import path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from apps.api import metrics_view, project_views, rbac_views, views
from apps.api.openapi import views as openapi_views

router = SimpleRouter()
router.register("rbac/mappings", rbac_views.MappingRuleViewSet, basename="mapping")
router.register("projects", project_views.ProjectViewSet, basename="project")

app_name = "api"
urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("ready", views.ReadyView.as_view(), name="ready"),
    path("me", views.MeView.as_view(), name="me"),
    path("metrics", metrics_view.MetricsView.as_view(), name="metrics"),
    path("rbac/permissions/", rbac_views.PermissionListView.as_view(), name="permissions"),
    path("rbac/simulate/", rbac_views.SimulateView.as_view(), name="simulate"),
    *router.urls,
    # Public documentation (no token): the OpenAPI schema and Swagger UI; apps/api/openapi.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", openapi_views.SwaggerDocsView.as_view(), name="docs"),
    path("docs/oauth2-redirect.html", openapi_views.oauth2_redirect, name="docs-oauth2-redirect"),
]
