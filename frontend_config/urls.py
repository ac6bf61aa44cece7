"""Included last by config/urls.py: the shell's catch-all must not shadow anything."""

from django.urls import path, re_path

from frontend_config import views

urlpatterns = [
    path("config.json", views.config_json, name="config-json"),
    path("config.schema.json", views.config_schema, name="config-schema"),
    re_path(r"^(?P<path>.*)$", views.spa_shell, name="spa-shell"),
]
