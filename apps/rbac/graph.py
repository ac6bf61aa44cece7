"""The groups of an overage token, from Microsoft Graph ``transitiveMemberOf`` (opt-in).

Used only when ``PORTICO_RBAC_GRAPH_GROUPS`` is on (docs/rbac-graph.md). The URL is built
from the validated ``oid`` and the token kind, as Microsoft advises ("use the idtyp optional
claim ... to construct a Microsoft Graph URL"); the ``_claim_sources`` endpoint inside the
token is never used (that would let a token choose where the server sends requests).

Each lookup is one app-only call per page, bounded in pages, bytes and time; ``@odata.nextLink``
is followed only on the configured Graph host. A result is cached per ``(tid, oid)`` for
``PORTICO_RBAC_GRAPH_CACHE_SECONDS`` in the shared cache and in process memory, so a stream of
requests costs one Graph call per user per period. Every failure raises :class:`GraphError`;
the caller (``groups.py``) then applies no group rules: never a grant, never a 500.
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import quote, urlsplit

from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.core.conf import PorticoSettings, portico_settings
from apps.core.lru import BoundedLRU
from apps.entra_auth import client_credentials
from apps.entra_auth.claims import Claims
from apps.entra_auth.fetch import FetchError, fetch_document
from apps.entra_auth.shared_cache import tolerant_cache
from apps.entra_auth.validation import GUID

MAX_PAGES = 20
PAGE_MAX_BYTES = 2 * 1024 * 1024  # 999 ids of ~90 bytes each, with room to spare
TIMEOUT_SECONDS = 10.0  # the whole lookup, all pages together
RETRY_AFTER_FAILURE_SECONDS = 30.0  # per user, per process: an outage is not hammered
CACHE_PREFIX = "rbac:graph-groups:v1:"


class GraphError(Exception):
    """The groups could not be resolved; the message says why (no token, no secret)."""


# (tid, oid) -> (expires at, monotonic clock; the groups, or None after a failure)
_local: BoundedLRU[tuple[str, str], tuple[float, frozenset[str] | None]] = BoundedLRU(10_000)
_stripes = tuple(threading.Lock() for _ in range(64))  # one lookup at a time per user


def graph_groups(*, claims: Claims) -> frozenset[str]:
    """The ids of every group ``claims``' principal is a member of, directly or nested."""
    conf = portico_settings()
    if claims.tid != conf.entra_tenant_id:
        # The app credential reads the home directory only; a guest's oid in another tenant
        # names someone else (or no one) there.
        raise GraphError("the token is from another tenant than ENTRA_TENANT_ID")
    if not GUID.fullmatch(claims.oid):
        raise GraphError("the token's oid is not a GUID")
    key = (claims.tid, claims.oid)
    found = _cached(key)
    if found is not None:
        return found
    with _stripes[hash(key) % len(_stripes)]:
        found = _cached(key)  # another thread may have looked it up meanwhile
        if found is not None:
            return found
        try:
            groups = transitive_groups(conf=conf, oid=claims.oid, is_app=claims.is_app)
        except GraphError:
            _local.put(key, (time.monotonic() + RETRY_AFTER_FAILURE_SECONDS, None))
            raise
        _remember(key, groups, seconds=conf.rbac_graph_cache_seconds)
        return groups


def _cached(key: tuple[str, str]) -> frozenset[str] | None:
    entry = _local.get(key)
    if entry is not None and time.monotonic() < entry[0]:
        if entry[1] is None:
            raise GraphError("a recent lookup for this principal failed; retrying later")
        return entry[1]
    shared = tolerant_cache.get(_shared_key(key))
    if not _well_formed(shared):
        return None
    remaining = shared["expires"] - time.time()
    if remaining <= 0:
        return None
    groups = frozenset(shared["groups"])
    _local.put(key, (time.monotonic() + remaining, groups))
    return groups


def _well_formed(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("expires"), float | int)
        and isinstance(value.get("groups"), list)
        and all(isinstance(g, str) for g in value["groups"])
    )


def _remember(key: tuple[str, str], groups: frozenset[str], *, seconds: int) -> None:
    if seconds <= 0:
        return
    # The absolute expiry travels with the value, so a copy taken from the shared cache by
    # another process expires when the original does: staleness stays within one period.
    value = {"expires": time.time() + seconds, "groups": sorted(groups)}
    tolerant_cache.set(_shared_key(key), value, seconds)
    _local.put(key, (time.monotonic() + seconds, groups))


def _shared_key(key: tuple[str, str]) -> str:
    return f"{CACHE_PREFIX}{key[0]}:{key[1]}"


def transitive_groups(*, conf: PorticoSettings, oid: str, is_app: bool) -> frozenset[str]:
    """Every page of ``/transitiveMemberOf/microsoft.graph.group`` for one principal."""
    host = conf.entra_graph_host
    parts = urlsplit(host)
    allow_http = conf.env == "dev"
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise GraphError(f"ENTRA_GRAPH_HOST must be https, got {host!r}")
    collection = "servicePrincipals" if is_app else "users"
    # An OData cast (/microsoft.graph.group) is an advanced query: Graph documents it as
    # needing ConsistencyLevel: eventual and $count=true (sent by _get_page).
    url: str | None = (
        f"{host}/v1.0/{collection}/{quote(oid)}/transitiveMemberOf/microsoft.graph.group"
        "?$select=id&$top=999&$count=true"
    )
    try:
        token = client_credentials.app_token(scopes=[f"{host}/.default"])
    except client_credentials.ClientCredentialsError as exc:
        raise GraphError(f"no app token: {exc}") from exc
    deadline = time.monotonic() + TIMEOUT_SECONDS
    groups: set[str] = set()
    for _ in range(MAX_PAGES):
        page = _get_page(url, token=token, deadline=deadline, allow_http=allow_http)
        groups.update(_ids(page))
        url = _next_link(page, origin=(parts.scheme, parts.netloc))
        if url is None:
            return frozenset(groups)
    raise GraphError(f"more than {MAX_PAGES} pages of groups")


def _ids(page: dict) -> list[str]:
    items = page.get("value")
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("id"), str) for item in items
    ):
        raise GraphError("Graph answered a page without a list of ids")
    return [item["id"] for item in items]


def _next_link(page: dict, *, origin: tuple[str, str]) -> str | None:
    link = page.get("@odata.nextLink")
    if link is None:
        return None
    if not isinstance(link, str):
        raise GraphError("Graph answered a nextLink that is not a string")
    parts = urlsplit(link)
    if (parts.scheme, parts.netloc) != origin:
        # The bearer token must never travel to another host, whatever the answer says.
        raise GraphError(f"refusing a nextLink outside ENTRA_GRAPH_HOST: {parts.netloc!r}")
    return link


def _get_page(url: str, *, token: str, deadline: float, allow_http: bool) -> dict:
    # fetch_document never follows a redirect: the bearer token goes to the Graph host only.
    headers = {"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"}
    try:
        body = fetch_document(
            url,
            # The remaining time bounds this page's socket operations and body read alike.
            timeout=max(deadline - time.monotonic(), 0.001),
            max_bytes=PAGE_MAX_BYTES,
            allow_http=allow_http,
            headers=headers,
        )
    except FetchError as exc:
        if exc.status is not None:
            raise GraphError(f"Graph answered {exc.status}") from exc
        raise GraphError(f"Graph unreachable: {exc}") from exc
    try:
        page = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise GraphError("Graph answered something that is not JSON") from exc
    if not isinstance(page, dict):
        raise GraphError("Graph answered JSON that is not an object")
    return page


def forget_all() -> None:
    """Drop this process's cached results and failures (tests; settings changed)."""
    _local.clear()


@receiver(setting_changed)
def _reload(*, setting: str, **_: object) -> None:
    if setting == "PORTICO":
        forget_all()
