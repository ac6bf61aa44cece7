from django.apps import AppConfig


class FrontendConfigConfig(AppConfig):
    name = "frontend_config"
    verbose_name = "SPA runtime configuration and shell"

    def ready(self) -> None:
        from frontend_config import checks  # noqa: F401  (registers the checks)
