"""Typed access to the ``PORTICO`` settings dict, in the manner of DRF's ``api_settings``.

Defaults live here, in one place. The accessor never validates (a broken configuration must
still load so that the system checks can report all of it); ``apps.core.checks`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver


@dataclass(frozen=True)
class PorticoSettings:
    """The validated-by-checks view of ``settings.PORTICO``; field = key in lower case."""

    env: str = "dev"
    dev_issuer: bool = False
    entra_tenant_id: str = ""
    entra_allowed_tenants: tuple[str, ...] = ()
    entra_api_client_id: str = ""
    entra_api_app_id_uri: str = ""
    entra_authority_host: str = "https://login.microsoftonline.com"
    entra_accepted_token_versions: tuple[str, ...] = ("1", "2")
    entra_allow_insecure_authority: bool = False
    entra_clock_skew_seconds: int = 60
    entra_keys_refresh_min_seconds: int = 300
    entra_spa_client_id: str = ""
    entra_spa_scopes: tuple[str, ...] = ()
    rbac_admin_role: str = ""
    rbac_graph_groups: bool = False
    rbac_graph_cache_seconds: int = 600
    entra_client_secret: str = field(default="", repr=False)  # a secret: never in a repr
    entra_client_assertion_file: str = ""
    entra_client_certificate_file: str = ""
    entra_web_client_id: str = ""
    admin_password_login: bool = False
    entra_graph_host: str = "https://graph.microsoft.com"
    entra_devtools_client_id: str = ""
    dev_web_client_secret: str = field(default="", repr=False)  # a secret: never in a repr
    dev_issuer_redirect_uris: tuple[str, ...] = ()
    ui_base_path: str = "/"
    frontend_dist: str = ""
    build_version: str = "unknown"
    build_commit: str = "unknown"
    entra_spa_redirect_uri: str = ""
    entra_spa_post_logout_redirect_uri: str = ""
    # Not set from the environment: operational constants with safe defaults.
    entra_keys_fetch_timeout_seconds: float = 5.0
    entra_keys_max_bytes: int = 1024 * 1024
    entra_keys_refresh_seconds: int = 3600
    entra_keys_max_age_seconds: int = 24 * 3600
    entra_token_cache_size: int = 10_000
    user_cache_seconds: int = 60
    # /api/ready answers 503 when the database has not answered within this (apps/core/db_probe).
    ready_database_timeout_seconds: float = 1.5
    # How often each process sends its counter deltas to Redis (apps/core/metrics_flush).
    metrics_flush_seconds: int = 5

    @property
    def tenants(self) -> tuple[str, ...]:
        """Every tenant whose tokens are accepted: the configured one, then any others allowed."""
        extra = tuple(t for t in self.entra_allowed_tenants if t != self.entra_tenant_id)
        return (self.entra_tenant_id, *extra)

    @property
    def audiences(self) -> frozenset[str]:
        """Both audience forms Entra can put in ``aud``: client id and App ID URI, verbatim."""
        return frozenset(a for a in (self.entra_api_client_id, self.entra_api_app_id_uri) if a)


KNOWN_KEYS = frozenset(f.name.upper() for f in fields(PorticoSettings))


def variable_for(key: str) -> str:
    """The environment variable an operator sets for ``PORTICO[key]``."""
    return key if key.startswith(("ENTRA_", "CORS_")) else f"PORTICO_{key}"


@cache
def portico_settings() -> PorticoSettings:
    """The current settings; cached, and rebuilt when tests override ``PORTICO``."""
    raw = getattr(settings, "PORTICO", {})
    return PorticoSettings(**{k.lower(): v for k, v in raw.items() if k in KNOWN_KEYS})


@receiver(setting_changed)
def _reload(*, setting: str, **_: object) -> None:
    if setting == "PORTICO":
        portico_settings.cache_clear()
