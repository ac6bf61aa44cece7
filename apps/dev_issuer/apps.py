from django.apps import AppConfig


class DevIssuerConfig(AppConfig):
    name = "apps.dev_issuer"
    label = "dev_issuer"
    verbose_name = "Dev-only token issuer"

    def ready(self) -> None:
        from apps.dev_issuer import checks  # noqa: F401  (registers the checks)
