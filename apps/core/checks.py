"""Start-up checks of the environment as a whole (the Entra and dev-issuer apps add theirs).

Each message names the variable the operator sets; ``config/wsgi.py`` runs every check and
refuses to serve on an error.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Critical, Error, register
from django.core.exceptions import ImproperlyConfigured

from apps.core.conf import KNOWN_KEYS, portico_settings, variable_for


@register()
def check_environment_parsed(**_: object) -> list[CheckMessage]:
    """core.E001: a variable whose value could not be parsed at all."""
    return [
        Error(
            f"{problem.variable} {problem.message}.",
            hint=f"Fix or unset {problem.variable} in the environment.",
            id="core.E001",
        )
        for problem in getattr(settings, "PORTICO_ENV_PROBLEMS", ())
    ]


@register()
def check_known_keys(**_: object) -> list[CheckMessage]:
    """core.E002: a key in settings.PORTICO that nothing reads (a typo loses a setting)."""
    unknown = sorted(set(getattr(settings, "PORTICO", {})) - KNOWN_KEYS)
    return [
        Error(
            f"settings.PORTICO has an unknown key {key!r}.",
            hint=f"Known keys: {', '.join(sorted(KNOWN_KEYS))}.",
            id="core.E002",
        )
        for key in unknown
    ]


@register()
def check_secret_key(**_: object) -> list[CheckMessage]:
    """core.E003: outside dev the secret key must come from the environment."""
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
        secret_key = ""
    if portico_settings().env == "dev" or len(secret_key) >= 50:
        return []
    return [
        Error(
            f"DJANGO_SECRET_KEY is required with {variable_for('ENV')}="
            f"{portico_settings().env} and must be at least 50 characters.",
            hint="Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(64))'"
            " and pass it from the secret store.",
            id="core.E003",
        )
    ]


@register()
def check_allowed_hosts(**_: object) -> list[CheckMessage]:
    """core.E004: outside dev, ALLOWED_HOSTS must be explicit and never a wildcard."""
    hosts = settings.ALLOWED_HOSTS
    if portico_settings().env == "dev" or (hosts and "*" not in hosts):
        return []
    return [
        Error(
            f"DJANGO_ALLOWED_HOSTS must list this environment's host names; got {hosts!r}.",
            hint="For example DJANGO_ALLOWED_HOSTS=app-uat.internal.example.com",
            id="core.E004",
        )
    ]


@register()
def check_metrics_flush_seconds(**_: object) -> list[CheckMessage]:
    """core.E005: counter deltas must reach Redis often enough to matter, and not constantly."""
    seconds = portico_settings().metrics_flush_seconds
    if 1 <= seconds <= 300:
        return []
    return [
        Error(
            f"{variable_for('METRICS_FLUSH_SECONDS')} must be between 1 and 300 seconds; "
            f"got {seconds}.",
            hint=f"Unset {variable_for('METRICS_FLUSH_SECONDS')} (default 5) or pick 1-300.",
            id="core.E005",
        )
    ]


@register()
def check_debug_in_prod(**_: object) -> list[CheckMessage]:
    """core.C001: DEBUG in prod shows settings and request data on error pages.

    Django's own warning (security.W018) only runs under ``check --deploy``, which
    ``config/wsgi.py`` does not run; this one stops gunicorn from serving.
    """
    if portico_settings().env != "prod" or not settings.DEBUG:
        return []
    return [
        Critical(
            f"DJANGO_DEBUG is on with {variable_for('ENV')}=prod.",
            hint="Unset DJANGO_DEBUG (it defaults to off outside dev).",
            id="core.C001",
        )
    ]
