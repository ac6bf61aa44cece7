"""Start-up checks of the Entra settings; each message names the variable to fix."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.checks import CheckMessage, Critical, Error, register

from apps.core.conf import PorticoSettings, portico_settings
from apps.entra_auth.validation import GUID

CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def _guid_problem(name: str, value: str, *, required: bool) -> str | None:
    if not value:
        return f"{name} is required outside dev." if required else None
    if not GUID.fullmatch(value.lower()):
        return f"{name} must be a GUID, got {value!r}."
    return None


@register()
def check_tenant(**_: object) -> list[CheckMessage]:
    """entra_auth.E001: the directory (tenant) id."""
    conf = portico_settings()
    problem = _guid_problem("ENTRA_TENANT_ID", conf.entra_tenant_id, required=True)
    if problem is None and conf.entra_tenant_id == CONSUMER_TENANT:
        problem = "ENTRA_TENANT_ID is the consumer (personal accounts) tenant."
    if problem is None:
        return []
    return [
        Error(
            problem,
            hint="Set ENTRA_TENANT_ID to the directory (tenant) GUID shown on "
            "the app registration's Overview page.",
            id="entra_auth.E001",
        )
    ]


@register()
def check_api_client(**_: object) -> list[CheckMessage]:
    """entra_auth.E002 / E003: the API registration's client id and App ID URI."""
    conf = portico_settings()
    errors: list[CheckMessage] = []
    problem = _guid_problem("ENTRA_API_CLIENT_ID", conf.entra_api_client_id, required=True)
    if problem:
        errors.append(
            Error(
                problem,
                hint="Set ENTRA_API_CLIENT_ID to the API app registration's "
                "Application (client) ID.",
                id="entra_auth.E002",
            )
        )
    uri = conf.entra_api_app_id_uri
    if not uri or any(c.isspace() for c in uri) or uri.endswith("/"):
        errors.append(
            Error(
                f"ENTRA_API_APP_ID_URI must be the API's App ID URI, got {uri!r}.",
                hint="For example api://<client id>, without a trailing slash.",
                id="entra_auth.E003",
            )
        )
    return errors


@register()
def check_authority(**_: object) -> list[CheckMessage]:
    """entra_auth.E004 / C001: the authority host, and http authorities."""
    conf = portico_settings()
    parts = urlsplit(conf.entra_authority_host)
    if parts.scheme not in {"https", "http"} or not parts.netloc or parts.query:
        return [
            Error(
                f"ENTRA_AUTHORITY_HOST must be an absolute URL, got {conf.entra_authority_host!r}.",
                hint="For example https://login.microsoftonline.com",
                id="entra_auth.E004",
            )
        ]
    if parts.scheme == "https":
        return []
    if conf.env == "prod":
        return [
            Critical(
                "ENTRA_AUTHORITY_HOST is http:// in prod: keys could be forged in transit.",
                hint="Use the https authority; ENTRA_ALLOW_INSECURE_AUTHORITY is refused in prod.",
                id="entra_auth.C001",
            )
        ]
    if not conf.entra_allow_insecure_authority:
        return [
            Error(
                "ENTRA_AUTHORITY_HOST is http:// but ENTRA_ALLOW_INSECURE_AUTHORITY is off.",
                hint="Use https, or set ENTRA_ALLOW_INSECURE_AUTHORITY=1 for a local issuer "
                "(never in prod).",
                id="entra_auth.E005",
            )
        ]
    return []


@register()
def check_insecure_flag_in_prod(**_: object) -> list[CheckMessage]:
    """entra_auth.C002: the escape hatch for local issuers is never allowed in prod."""
    conf = portico_settings()
    if conf.env == "prod" and conf.entra_allow_insecure_authority:
        return [
            Critical(
                "ENTRA_ALLOW_INSECURE_AUTHORITY is on in prod.",
                hint="Unset ENTRA_ALLOW_INSECURE_AUTHORITY.",
                id="entra_auth.C002",
            )
        ]
    return []


@register()
def check_token_policy(**_: object) -> list[CheckMessage]:
    """entra_auth.E006-E009: versions, allowed tenants, clock skew, refresh gap."""
    conf = portico_settings()
    return [
        Error(message, hint=hint, id=check_id)
        for check_id, message, hint in _token_policy_problems(conf)
    ]


def _token_policy_problems(conf: PorticoSettings) -> list[tuple[str, str, str]]:
    problems = []
    versions = conf.entra_accepted_token_versions
    if not versions or not set(versions) <= {"1", "2"}:
        problems.append(
            (
                "entra_auth.E006",
                f"ENTRA_ACCEPTED_TOKEN_VERSIONS must list 1 and/or 2, got {versions!r}.",
                "For example ENTRA_ACCEPTED_TOKEN_VERSIONS=2",
            )
        )
    bad = [t for t in conf.entra_allowed_tenants if not GUID.fullmatch(t)]
    if bad:
        problems.append(
            (
                "entra_auth.E007",
                f"ENTRA_ALLOWED_TENANTS must be tenant GUIDs, got {', '.join(bad)}.",
                "A comma-separated list of directory (tenant) GUIDs.",
            )
        )
    if not 0 <= conf.entra_clock_skew_seconds <= 300:
        problems.append(
            (
                "entra_auth.E008",
                f"ENTRA_CLOCK_SKEW_SECONDS must be 0 to 300, got {conf.entra_clock_skew_seconds}.",
                "The default, 60, suits most.",
            )
        )
    if not 1 <= conf.entra_keys_refresh_min_seconds <= 3600:
        problems.append(
            (
                "entra_auth.E009",
                f"ENTRA_KEYS_REFRESH_MIN_SECONDS must be 1 to 3600, got "
                f"{conf.entra_keys_refresh_min_seconds}.",
                "Microsoft asks for no more than one refresh per 300 seconds.",
            )
        )
    return problems
