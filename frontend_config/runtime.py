"""The SPA's runtime configuration: what one build needs to know about where it runs.

Built from settings once per request origin (the redirect URIs follow it) and rebuilt when
``PORTICO`` changes, so one image and one SPA build serve dev, uat and prod. Only public
values, by construction: the dataclasses below have no field that could carry a secret, and
``frontend_config.C001`` refuses a configuration whose published values look like one.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit

from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

from apps.core.conf import portico_settings

API_BASE_URL = "/api"
# A mount point: "/" or "/segment/…/", URL-safe characters only.
BASE_PATH = re.compile(r"/(?:[A-Za-z0-9._~-]+/)*")


@dataclass(frozen=True)
class AuthConfig:
    client_id: str
    authority: str
    tenant_id: str
    redirect_uri: str
    post_logout_redirect_uri: str
    scopes: tuple[str, ...]
    known_authorities: tuple[str, ...]


@dataclass(frozen=True)
class Features:
    dev_issuer: bool


@dataclass(frozen=True)
class BuildInfo:
    version: str
    commit: str


@dataclass(frozen=True)
class RuntimeConfig:
    environment: str
    api_base_url: str
    base_path: str
    auth: AuthConfig
    features: Features
    build: BuildInfo

    def as_document(self) -> dict[str, Any]:
        """The published shape: camelCase keys, lists for tuples (docs/config-schema.json)."""
        return _camel(asdict(self))

    def as_json(self) -> str:
        return self._json

    @cached_property
    def _json(self) -> str:
        # Serialised once per instance: instances are cached per origin (runtime_config).
        return json.dumps(self.as_document(), separators=(",", ":"), sort_keys=True)


def _camel(value: Any) -> Any:
    if isinstance(value, dict):
        return {_camel_key(k): _camel(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_camel(v) for v in value]
    return value


def _camel_key(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def base_path() -> str:
    """PORTICO_UI_BASE_PATH with the slashes a mount point needs: "ui" and "/ui" → "/ui/"."""
    parts = [part for part in portico_settings().ui_base_path.split("/") if part]
    return "/" + "".join(f"{part}/" for part in parts)


def request_origin(request: HttpRequest) -> str:
    """``scheme://host`` as the browser sees it (X-Forwarded-Proto is trusted behind the ALB)."""
    return f"{request.scheme}://{request.get_host()}"


# A few origins per deployment (Host is checked against ALLOWED_HOSTS); maxsize bounds the rest.
@lru_cache(maxsize=16)
def runtime_config(*, origin: str) -> RuntimeConfig:
    """The configuration for a page served from ``origin``."""
    conf = portico_settings()
    mount = base_path()
    home = f"{origin}{mount}"
    return RuntimeConfig(
        environment=conf.env,
        api_base_url=API_BASE_URL,
        base_path=mount,
        auth=AuthConfig(
            client_id=conf.entra_spa_client_id,
            authority=f"{conf.entra_authority_host}/{conf.entra_tenant_id}",
            tenant_id=conf.entra_tenant_id,
            redirect_uri=conf.entra_spa_redirect_uri or home,
            post_logout_redirect_uri=conf.entra_spa_post_logout_redirect_uri or home,
            scopes=conf.entra_spa_scopes,
            known_authorities=(urlsplit(conf.entra_authority_host).netloc,),
        ),
        features=Features(dev_issuer=conf.dev_issuer and conf.env == "dev"),
        build=BuildInfo(version=conf.build_version, commit=conf.build_commit),
    )


def runtime_config_for(request: HttpRequest) -> RuntimeConfig:
    return runtime_config(origin=request_origin(request))


@receiver(setting_changed)
def _reload(*, setting: str, **_: object) -> None:
    if setting == "PORTICO":
        runtime_config.cache_clear()
