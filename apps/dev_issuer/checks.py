"""The dev issuer must never run where real users are (entra-token-spec §13)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Critical, Error, register

from apps.core.conf import portico_settings

_MICROSOFT_HOSTS = (
    "microsoftonline.com",
    "microsoftonline.us",
    "microsoftonline.cn",
    "chinacloudapi.cn",
    "windows.net",
)


@register(deploy=False)
def check_dev_issuer(**_: object) -> list[CheckMessage]:
    """dev_issuer.C001 / E001 / E002."""
    conf = portico_settings()
    if not conf.dev_issuer:
        return []
    if conf.env != "dev":
        return [
            Critical(
                f"PORTICO_DEV_ISSUER is on with PORTICO_ENV={conf.env}: anyone could mint tokens.",
                hint="Unset PORTICO_DEV_ISSUER.",
                id="dev_issuer.C001",
            )
        ]
    errors: list[CheckMessage] = []
    if not settings.DEBUG:
        errors.append(
            Error(
                "PORTICO_DEV_ISSUER is on while DEBUG is off: this looks like a "
                "production-like deployment.",
                hint="Set PORTICO_DEV_ISSUER=0, or DJANGO_DEBUG=1 for local work.",
                id="dev_issuer.E001",
            )
        )
    host = urlsplit(conf.entra_authority_host).hostname or ""
    if host.endswith(_MICROSOFT_HOSTS):
        errors.append(
            Error(
                "PORTICO_DEV_ISSUER is on but ENTRA_AUTHORITY_HOST is a Microsoft "
                "host: dev tokens would claim a real issuer.",
                hint="Unset ENTRA_AUTHORITY_HOST in dev, or set PORTICO_DEV_ISSUER=0.",
                id="dev_issuer.E002",
            )
        )
    return errors
