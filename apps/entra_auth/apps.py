from django.apps import AppConfig


class EntraAuthConfig(AppConfig):
    name = "apps.entra_auth"
    label = "entra_auth"
    verbose_name = "Entra authentication"

    def ready(self) -> None:
        from apps.entra_auth import checks, runtime, users  # noqa: F401  (checks, signals)
