from django.apps import AppConfig


class SigninConfig(AppConfig):
    name = "apps.signin"
    label = "signin"
    verbose_name = "Sign-in for people (admin site, browsable API)"

    def ready(self) -> None:
        from django.contrib import admin

        from apps.signin import checks  # noqa: F401  (registers the checks)
        from apps.signin.forms import AdminPasswordLoginForm

        # The admin login page offers "Sign in with Microsoft Entra", and its password form
        # refuses when PORTICO_ADMIN_PASSWORD_LOGIN is off; the index links the explainer.
        admin.site.login_template = "signin/admin_login.html"
        admin.site.login_form = AdminPasswordLoginForm
        admin.site.index_template = "signin/admin_index.html"
