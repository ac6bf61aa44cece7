from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.api import project_views, rbac_views, views

router = SimpleRouter()
router.register("rbac/mappings", rbac_views.MappingRuleViewSet, basename="mapping")
router.register("projects", project_views.ProjectViewSet, basename="project")

app_name = "api"
urlpatterns = [
    path("health", views.HealthView.as_view(), name="health"),
    path("ready", views.ReadyView.as_view(), name="ready"),
    path("me", views.MeView.as_view(), name="me"),
    path("rbac/permissions/", rbac_views.PermissionListView.as_view(), name="permissions"),
    path("rbac/simulate/", rbac_views.SimulateView.as_view(), name="simulate"),
    *router.urls,
]
