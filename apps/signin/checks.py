"""Start-up checks of the sign-in settings; each message names the variable to fix."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, Warning, register

from apps.core.conf import PorticoSettings, portico_settings, variable_for
from apps.entra_auth.client_credentials import (
    ClientCredentialsError,
    certificate_credential,
    has_client_credential,
)
from apps.entra_auth.validation import GUID
from apps.signin.entra import uses_dev_issuer


def entra_signin_configured(conf: PorticoSettings) -> bool:
    """Whether "Sign in with Microsoft Entra" has a client credential to redeem codes with."""
    if uses_dev_issuer(conf):
        return bool(conf.dev_web_client_secret)
    return has_client_credential(conf)


@register()
def check_admin_reachable(**_: object) -> list[CheckMessage]:
    """signin.E001: with password login off, Entra sign-in is the only way into the admin."""
    conf = portico_settings()
    if conf.admin_password_login or entra_signin_configured(conf):
        return []
    return [
        Error(
            f"{variable_for('ADMIN_PASSWORD_LOGIN')} is off and Entra sign-in has no client "
            "credential: nobody can sign in to the admin site.",
            hint="Set ENTRA_CLIENT_ASSERTION_FILE, ENTRA_CLIENT_CERTIFICATE_FILE or "
            f"ENTRA_CLIENT_SECRET for ENTRA_WEB_CLIENT_ID (docs/signin.md), or set "
            f"{variable_for('ADMIN_PASSWORD_LOGIN')}=1.",
            id="signin.E001",
        )
    ]


@register()
def check_web_client(**_: object) -> list[CheckMessage]:
    """signin.E002: the web client id is a GUID."""
    client_id = portico_settings().entra_web_client_id
    if not client_id or GUID.fullmatch(client_id):
        return []
    return [
        Error(
            f"ENTRA_WEB_CLIENT_ID must be an application (client) id GUID, got {client_id!r}.",
            hint="Leave it unset to sign in with the API registration (ENTRA_API_CLIENT_ID).",
            id="signin.E002",
        )
    ]


@register()
def check_certificate_file(**_: object) -> list[CheckMessage]:
    """signin.E003: the certificate file holds a private key and its certificate."""
    path = portico_settings().entra_client_certificate_file
    if not path:
        return []
    try:
        certificate_credential(path)
    except ClientCredentialsError as exc:
        return [
            Error(
                str(exc),
                hint="openssl can join them: cat key.pem cert.pem > client.pem",
                id="signin.E003",
            )
        ]
    return []


@register()
def check_password_login_in_prod(**_: object) -> list[CheckMessage]:
    """signin.W001: in prod, local passwords bypass the mapping; keep them for break-glass."""
    conf = portico_settings()
    if conf.env != "prod" or not conf.admin_password_login:
        return []
    return [
        Warning(
            f"{variable_for('ADMIN_PASSWORD_LOGIN')} is on in prod: local passwords open the "
            "admin site without Entra.",
            hint=f"Unset {variable_for('ADMIN_PASSWORD_LOGIN')} once the break-glass need is over.",
            id="signin.W001",
        )
    ]


@register()
def check_signin_authority(**_: object) -> list[CheckMessage]:
    """signin.W002: msal (like MSAL.js) refuses http authorities."""
    host = portico_settings().entra_authority_host
    if host.startswith("https://"):
        return []
    return [
        Warning(
            f"ENTRA_AUTHORITY_HOST is {host!r}: Sign in with Microsoft Entra needs https "
            "(msal refuses http authorities); bearer tokens are unaffected.",
            hint="Serve the dev issuer over https as `make run` does (https://localhost:8443).",
            id="signin.W002",
        )
    ]
