from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """The sample domain: shows mapped permissions guarding a plain DRF resource."""

    name = "apps.projects"
    label = "projects"
