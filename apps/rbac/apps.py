from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "apps.rbac"
    label = "rbac"
    verbose_name = "Role mappings"

    def ready(self) -> None:
        from apps.rbac import signals  # noqa: F401  (bumps the mapping version on change)
