"""Start-up checks of what the SPA is told; each message names the variable to fix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Critical, Error, register
from django.core.exceptions import ImproperlyConfigured

from apps.core.conf import portico_settings
from apps.entra_auth.validation import GUID
from frontend_config.routes import reserved_prefixes
from frontend_config.runtime import BASE_PATH, base_path, runtime_config

# The variable behind each published value, for the messages.
VARIABLES = {
    "environment": "PORTICO_ENV",
    "basePath": "PORTICO_UI_BASE_PATH",
    "auth.clientId": "ENTRA_SPA_CLIENT_ID",
    "auth.authority": "ENTRA_AUTHORITY_HOST",
    "auth.tenantId": "ENTRA_TENANT_ID",
    "auth.redirectUri": "ENTRA_SPA_REDIRECT_URI",
    "auth.postLogoutRedirectUri": "ENTRA_SPA_POST_LOGOUT_REDIRECT_URI",
    "auth.scopes": "ENTRA_SPA_SCOPES",
    "auth.knownAuthorities": "ENTRA_AUTHORITY_HOST",
    "build.version": "PORTICO_BUILD_VERSION",
    "build.commit": "PORTICO_BUILD_COMMIT",
}
SECRET_NAME = re.compile(r"secret|passw|private|credential|api_?key|token|signature", re.I)
SECRET_SHAPES = (
    re.compile(r"eyJ[\w-]+\.[\w-]+\."),  # a JWT
    re.compile(r"-----BEGIN [A-Z ]*KEY-----"),  # a PEM key
    re.compile(r"://[^/@\s]+:[^/@\s]+@"),  # a URL with a password
)
MIN_SECRET_LENGTH = 8


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item, path)
    else:
        yield path, str(value)


def _secret_key() -> str:
    try:
        return settings.SECRET_KEY
    except ImproperlyConfigured:  # empty: core.E003 reports it
        return ""


def _known_secrets() -> set[str]:
    conf = portico_settings()
    database = settings.DATABASES.get("default", {})
    candidates = {
        _secret_key(),
        conf.entra_client_secret,
        conf.dev_web_client_secret,
        database.get("PASSWORD") or "",
        urlsplit(getattr(settings, "REDIS_URL", "") or "").password or "",
    }
    return {secret for secret in candidates if len(secret) >= MIN_SECRET_LENGTH}


@register()
def check_published_values(**_: object) -> list[CheckMessage]:
    """frontend_config.C001: nothing secret-looking reaches /config.json (served to anyone)."""
    document = runtime_config(origin="https://portico.invalid").as_document()
    known = _known_secrets()
    problems = []
    for path, value in _leaves(document):
        looks_secret = (
            SECRET_NAME.search(path)
            or any(secret in value for secret in known)
            or any(shape.search(value) for shape in SECRET_SHAPES)
        )
        if looks_secret:
            variable = VARIABLES.get(path, path)
            problems.append(
                Critical(
                    f"{variable} would publish a secret-looking value in /config.json "
                    f"({path}); it is served to anyone.",
                    hint=f"Set {variable} to its public value; secrets never go to the SPA.",
                    id="frontend_config.C001",
                )
            )
    return problems


@register()
def check_spa_client(**_: object) -> list[CheckMessage]:
    """frontend_config.E001: the SPA cannot sign anyone in without its client id."""
    conf = portico_settings()
    value = conf.entra_spa_client_id
    if not value and conf.env == "dev":
        return []
    if value and GUID.fullmatch(value.lower()):
        return []
    problem = (
        f"ENTRA_SPA_CLIENT_ID is required with PORTICO_ENV={conf.env}."
        if not value
        else f"ENTRA_SPA_CLIENT_ID must be a GUID, got {value!r}."
    )
    return [
        Error(
            problem,
            hint="Set ENTRA_SPA_CLIENT_ID to the SPA app registration's Application (client) ID.",
            id="frontend_config.E001",
        )
    ]


@register()
def check_base_path(**_: object) -> list[CheckMessage]:
    """frontend_config.E002: the mount point is a plain path that Django does not own."""
    mount = base_path()
    reserved = reserved_prefixes()
    if BASE_PATH.fullmatch(mount) and not mount.lstrip("/").startswith(reserved):
        return []
    return [
        Error(
            f"PORTICO_UI_BASE_PATH must be / or a path such as /ui/ outside "
            f"{', '.join('/' + p for p in reserved)}; got "
            f"{portico_settings().ui_base_path!r}.",
            hint="For example PORTICO_UI_BASE_PATH=/ui/ (letters, digits, . _ ~ -).",
            id="frontend_config.E002",
        )
    ]


@register()
def check_redirect_uris(**_: object) -> list[CheckMessage]:
    """frontend_config.E003: configured redirect URIs are absolute, https outside dev."""
    conf = portico_settings()
    schemes = {"https", "http"} if conf.env == "dev" else {"https"}
    errors: list[CheckMessage] = []
    for variable, value in (
        ("ENTRA_SPA_REDIRECT_URI", conf.entra_spa_redirect_uri),
        ("ENTRA_SPA_POST_LOGOUT_REDIRECT_URI", conf.entra_spa_post_logout_redirect_uri),
    ):
        parts = urlsplit(value)
        if value and (parts.scheme not in schemes or not parts.netloc or parts.fragment):
            errors.append(
                Error(
                    f"{variable} must be an absolute {' or '.join(sorted(schemes))} URL "
                    f"without a fragment; got {value!r}.",
                    hint=f"Unset {variable} to derive it from the request, or set the URI "
                    "registered on the SPA app registration.",
                    id="frontend_config.E003",
                )
            )
    return errors
