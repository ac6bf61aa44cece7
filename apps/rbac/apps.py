from django.apps import AppConfig


class RbacConfig(AppConfig):
    name = "apps.rbac"
    label = "rbac"
    verbose_name = "Role mappings"

    def ready(self) -> None:
        # checks: registers the system checks; signals: bumps the mapping version on change.
        from apps.rbac import checks, signals  # noqa: F401
