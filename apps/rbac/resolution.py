"""Claims -> permissions, from an in-memory snapshot of the active rules.

The snapshot is tagged with a version kept in the shared cache. Every change to a rule (admin,
API, import) or to a targeted group's permissions sets a new version (``signals.py``) and
publishes it; each process's watcher thread (``version_watch.py``) receives it, so each worker
and container reloads on its next request. Warm cost: dictionary look-ups proportional to the
token's roles, groups and scopes; no database query, and no network call while the watcher is
healthy (otherwise one cache read, as without Redis).

When the shared cache is unreachable, the watcher is unhealthy and the process keeps its
snapshot and reloads it from the database at most every ``DEGRADED_RELOAD_SECONDS``, so
changes still arrive, a little later.
When the database is unreachable at reload time, the process keeps serving its last snapshot
and retries at most every ``DATABASE_RETRY_SECONDS``; only a process that never loaded the
rules has to fail (503, through the API exception handler).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from django.db import DatabaseError

from apps.core.conf import portico_settings
from apps.core.throttle import Throttle
from apps.entra_auth.claims import Claims, TokenKind
from apps.entra_auth.shared_cache import tolerant_cache
from apps.rbac.groups import groups_for_matching
from apps.rbac.models import MappingRule, SourceKind, TokenKinds
from apps.rbac.version_watch import ProcessWatch

logger = logging.getLogger(__name__)

VERSION_KEY = "rbac:version"
DEGRADED_RELOAD_SECONDS = 30.0
DATABASE_RETRY_SECONDS = 5.0
RBAC_ADMIN_PERMISSIONS = frozenset(
    {
        "rbac.view_mappingrule",
        "rbac.add_mappingrule",
        "rbac.change_mappingrule",
        "rbac.delete_mappingrule",
        "rbac.simulate_mappingrule",
        "rbac.view_mappingaudit",
    }
)
# The kinds of token a rule's ``token_kinds`` reaches.
TOKEN_KINDS_REACHED = {
    TokenKinds.DELEGATED: frozenset({TokenKind.DELEGATED}),
    TokenKinds.APP: frozenset({TokenKind.APP}),
    TokenKinds.BOTH: frozenset({TokenKind.DELEGATED, TokenKind.APP}),
}


@dataclass(frozen=True)
class CompiledRule:
    """A rule as resolution needs it: targets flattened to ``app_label.codename`` strings."""

    id: int
    source_kind: str
    source_value: str
    label: str
    token_kinds: frozenset[TokenKind]
    permissions: frozenset[str]
    grants_staff: bool
    grants_superuser: bool


@dataclass(frozen=True)
class Grant:
    """What a token may do: Django permissions, admin flags, and the rules that matched."""

    permissions: frozenset[str] = frozenset()
    is_staff: bool = False
    is_superuser: bool = False
    rules: tuple[CompiledRule, ...] = ()
    admin_role: bool = False  # PORTICO_RBAC_ADMIN_ROLE matched


@dataclass(frozen=True)
class Snapshot:
    version: str | None
    loaded_at: float
    rules: dict[tuple[str, str], CompiledRule]
    retry_after: float = float("-inf")  # monotonic time before which no reload is tried
    # Grants already computed from these rules, by what they depend on (see _grant_key): a
    # caller's repeated token costs one look-up. Goes with the snapshot when it is replaced.
    grants: dict[tuple, Grant] = field(default_factory=dict, compare=False, repr=False)


GRANTS_PER_SNAPSHOT = 4096


_lock = threading.Lock()
_snapshot: Snapshot | None = None
_database_warning = Throttle(60.0)


def grant_for_claims(*, claims: Claims, simulated: bool = False) -> Grant:
    """The permissions and flags the active rules give this token (deny by default).

    Applications never get ``is_staff`` or ``is_superuser``: those open the admin site, a
    human interface, and a daemon's token is not a person signing in. Their permissions are
    unaffected. ``simulated`` resolves without side effects (no overage counter, log or
    Microsoft Graph call), for the simulator.
    """
    snapshot = current_snapshot()
    admin_role = portico_settings().rbac_admin_role
    if claims.groups_overage:  # counted, logged, maybe looked up in Graph: every time
        return _grant(snapshot, claims, admin_role, simulated=simulated)
    key = (claims.kind, claims.roles, claims.groups, claims.scopes, admin_role)
    grant = snapshot.grants.get(key)
    if grant is None:
        if len(snapshot.grants) >= GRANTS_PER_SNAPSHOT:
            snapshot.grants.clear()
        grant = snapshot.grants[key] = _grant(snapshot, claims, admin_role, simulated=simulated)
    return grant


def _grant(snapshot: Snapshot, claims: Claims, admin_role: str, *, simulated: bool) -> Grant:
    rules = rules_matching(
        snapshot=snapshot,
        kind=claims.kind,
        roles=claims.roles,
        groups=groups_for_matching(claims=claims, simulated=simulated),
        scopes=claims.scopes,
    )
    is_admin = bool(admin_role) and admin_role in claims.roles
    permissions = frozenset().union(*(rule.permissions for rule in rules))
    is_person = not claims.is_app
    return Grant(
        permissions=permissions | RBAC_ADMIN_PERMISSIONS if is_admin else permissions,
        is_staff=is_person and (is_admin or any(r.grants_staff for r in rules)),
        is_superuser=is_person and any(r.grants_superuser for r in rules),
        rules=rules,
        admin_role=is_admin,
    )


def rules_matching(
    *,
    snapshot: Snapshot,
    kind: TokenKind,
    roles: Iterable[str],
    groups: Iterable[str],
    scopes: Iterable[str],
) -> tuple[CompiledRule, ...]:
    """The active rules whose source the token carries, for its token kind; exact match."""
    candidates = (
        *((SourceKind.APP_ROLE, v) for v in roles),
        *((SourceKind.GROUP, v) for v in groups),
        *((SourceKind.SCOPE, v) for v in scopes),
    )
    found = (snapshot.rules.get(key) for key in candidates)
    return tuple(sorted((r for r in found if r and kind in r.token_kinds), key=lambda r: r.id))


def current_snapshot() -> Snapshot:
    """The local snapshot, reloaded when the shared version moved (or cache is down too long)."""
    global _snapshot
    version = _shared_version()
    snap = _snapshot
    if snap is not None and _is_current(snap, version):
        return snap
    with _lock:
        snap = _snapshot
        if snap is None or not _is_current(snap, version):
            snap = _snapshot = _reload(snap, version)
        return snap


def _reload(stale: Snapshot | None, version: str | None) -> Snapshot:
    """A fresh snapshot; the stale one, retried a little later, when the database is down."""
    try:
        return _load(version)
    except DatabaseError as exc:
        if stale is None:
            raise
        if _database_warning.ready():
            logger.warning("Mapping rules could not be reloaded, serving the last ones: %s", exc)
        return replace(stale, retry_after=time.monotonic() + DATABASE_RETRY_SECONDS)


def _is_current(snap: Snapshot, version: str | None) -> bool:
    if time.monotonic() < snap.retry_after:  # the database failed us just now: back off
        return True
    if version is None:  # shared cache unreachable: bounded staleness
        return time.monotonic() - snap.loaded_at < DEGRADED_RELOAD_SECONDS
    return snap.version == version


def _shared_version() -> str | None:
    """The version the watcher holds, without a network call; else read from the cache."""
    return _watch.version() or _read_shared_version()


def _read_shared_version() -> str | None:
    version = tolerant_cache.get(VERSION_KEY)
    if version is not None:
        return version
    # No version yet (fresh cache, eviction): agree on one; None when the cache is down.
    added = tolerant_cache.add(VERSION_KEY, uuid.uuid4().hex, None)
    return None if added is None else tolerant_cache.get(VERSION_KEY)


def bump_version() -> None:
    """Make every process reload the rules on its next request."""
    global _snapshot
    version = uuid.uuid4().hex
    tolerant_cache.set(VERSION_KEY, version, None)
    _watch.publish(version)  # after the set: a watcher that re-reads gets this one or newer
    # This process reloads at once, even when the shared cache is down; the old snapshot
    # stays as the fallback should the database fail during that reload.
    if _snapshot is not None:
        _snapshot = replace(_snapshot, version=None, loaded_at=float("-inf"))


_watch = ProcessWatch(key=VERSION_KEY, read=_read_shared_version)


def _load(version: str | None) -> Snapshot:
    rules = MappingRule.objects.filter(is_active=True).prefetch_related(
        "permissions__content_type", "groups__permissions__content_type"
    )
    compiled = {(rule.source_kind, rule.source_value): _compile(rule) for rule in rules}
    return Snapshot(version=version, loaded_at=time.monotonic(), rules=compiled)


def _compile(rule: MappingRule) -> CompiledRule:
    direct = rule.permissions.all()
    via_groups = (perm for group in rule.groups.all() for perm in group.permissions.all())
    return CompiledRule(
        id=rule.pk,
        source_kind=rule.source_kind,
        source_value=rule.source_value,
        label=rule.label,
        token_kinds=TOKEN_KINDS_REACHED[TokenKinds(rule.token_kinds)],
        permissions=frozenset(
            f"{perm.content_type.app_label}.{perm.codename}" for perm in (*direct, *via_groups)
        ),
        grants_staff=rule.grants_staff,
        grants_superuser=rule.grants_superuser,
    )
