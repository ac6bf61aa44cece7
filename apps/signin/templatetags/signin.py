"""Template helpers of the sign-in pages."""

from django import template

from apps.core.conf import portico_settings

register = template.Library()


@register.simple_tag
def password_login_enabled() -> bool:
    """Whether local passwords may open the admin site (PORTICO_ADMIN_PASSWORD_LOGIN)."""
    return portico_settings().admin_password_login
