"""``(tid, oid)`` -> Django user: created on first sight, written only when the profile changed.

Warm path: a process-local LRU (bounded, short TTL) answers without touching the database or
Redis; behind it the shared cache answers for callers another worker has already seen; the
database is the last resort. Callers get a shallow copy, so per-request state that Django
sets on a user object (permission caches) never leaks between requests. Saving or deleting
a user evicts it, here and in the shared cache; other processes notice within the TTL.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from apps.core import metrics
from apps.core.conf import portico_settings
from apps.core.lru import BoundedLRU
from apps.entra_auth.claims import Claims
from apps.entra_auth.models import User
from apps.entra_auth.shared_cache import tolerant_cache

_LOCAL_SIZE = 50_000


@dataclass(frozen=True)
class Profile:
    """The user fields a token can change."""

    kind: str
    display_name: str
    preferred_username: str
    email: str
    entra_client_id: str

    @classmethod
    def from_claims(cls, claims: Claims) -> Profile:
        if claims.is_app:
            return cls(
                User.Kind.APPLICATION, f"Application {claims.client_id}", "", "", claims.client_id
            )
        return cls(
            User.Kind.PERSON,
            claims.name[:256],
            claims.preferred_username[:256],
            claims.email[:254],
            "",
        )

    @classmethod
    def of(cls, user: User) -> Profile:
        return cls(
            user.kind, user.display_name, user.preferred_username, user.email, user.entra_client_id
        )


@dataclass(frozen=True)
class _Entry:
    user: User
    profile: Profile
    claims: Claims  # the validator hands out the same object for a repeated token
    cached_at: float


_local: BoundedLRU[tuple[str, str], _Entry] = BoundedLRU(_LOCAL_SIZE)


def user_for_claims(claims: Claims) -> User:
    """The user for a validated token, created just in time, with its profile refreshed."""
    identity = (claims.tid, claims.oid)
    now = time.monotonic()
    entry = _local.get(identity)
    fresh = entry is not None and now - entry.cached_at < _ttl()
    if fresh and (entry.claims is claims or entry.profile == Profile.from_claims(claims)):
        metrics.increment("portico_user_cache_total", found="process")
        return _copy(entry.user)
    profile = Profile.from_claims(claims)
    user = _from_shared(identity)
    if user is None or Profile.of(user) != profile:
        metrics.increment("portico_user_cache_total", found="database")
        user = _synchronised(identity, profile)
        tolerant_cache.set(_shared_key(*identity), user, _ttl())
    else:
        metrics.increment("portico_user_cache_total", found="shared_cache")
    _local.put(identity, _Entry(user, profile, claims, now))
    return _copy(user)


def _copy(user: User) -> User:
    """A per-request copy; Django's ``__getstate__`` copies ``_state`` and is cheaper than
    ``copy.copy``, which goes through pickling's ``__reduce_ex__``."""
    clone = User.__new__(User)
    clone.__dict__.update(user.__getstate__())
    return clone


def _ttl() -> float:
    return portico_settings().user_cache_seconds


def _shared_key(tid: str, oid: str) -> str:
    return f"entra:user:{tid}:{oid}"


def _from_shared(identity: tuple[str, str]) -> User | None:
    user = tolerant_cache.get(_shared_key(*identity))
    return user if isinstance(user, User) else None


def _synchronised(identity: tuple[str, str], profile: Profile) -> User:
    tid, oid = identity
    user = User.objects.filter(entra_tenant_id=tid, entra_object_id=oid).first()
    if user is None:
        user = _create(tid, oid, profile)
    elif Profile.of(user) != profile:
        changes = vars(profile)
        User.objects.filter(pk=user.pk).update(**changes)
        for field, value in changes.items():
            setattr(user, field, value)
    return user


def _create(tid: str, oid: str, profile: Profile) -> User:
    user = User(username=f"{oid}@{tid}", entra_tenant_id=tid, entra_object_id=oid, **vars(profile))
    user.set_unusable_password()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:  # created meanwhile by a concurrent first request
        return User.objects.get(entra_tenant_id=tid, entra_object_id=oid)
    return user


@receiver(post_save, sender=User)
@receiver(post_delete, sender=User)
def _forget(instance: User, **_: object) -> None:
    if instance.entra_object_id:
        identity = (instance.entra_tenant_id, instance.entra_object_id)
        _local.pop(identity)
        tolerant_cache.delete(_shared_key(*identity))


def forget_all() -> None:
    """Empty the process-local cache (tests)."""
    _local.clear()
