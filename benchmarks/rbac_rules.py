"""The RBAC benchmark's rule set and token values, and the process that writes them.

Why a module of its own: the rules must be written into the database gunicorn reads, by a
process configured exactly like gunicorn (same ``DATABASE_URL`` and ``REDIS_URL``), so that
switching between "no rules" and "N rules" bumps the mapping version in Redis and every
worker reloads, as it would after an admin's change. The layout itself (:func:`layout`) is
pure Python, so ``rbac_bench`` knows the token's values without importing Django.

Run by ``rbac_bench`` as ``python -m benchmarks.rbac_rules {create|activate|deactivate}
LAYOUT.json [--time]`` with the server's environment; prints the number of active rules and,
with ``--time``, the in-process CPU cost of resolving the layout's token (JSON).
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_NAMESPACE = uuid.UUID("5f0c1b7e-2f55-4d0e-9a57-6d1b8c2f3a10")
TARGET_GROUPS = 10  # Django groups the rules target, each with a few permissions
PERMISSIONS_PER_GROUP = 6


def group_id(index: int) -> str:
    """A stable GUID for the benchmark's Entra group ``index`` (the token and rules agree)."""
    return str(uuid.uuid5(_NAMESPACE, f"group-{index}"))


@dataclass(frozen=True)
class Layout:
    """What the token carries and which rules exist; rule rows are (kind, value, token kinds)."""

    roles: list[str]
    groups: list[str]
    scopes: str
    rules: list[tuple[str, str, str]]

    def matching(self) -> int:
        """How many rules match the (delegated) token."""
        carried = {
            "app_role": set(self.roles),
            "group": set(self.groups),
            "scope": set(self.scopes.split()),
        }
        return sum(
            1
            for kind, value, kinds in self.rules
            if value in carried[kind] and kinds in {"delegated", "both"}
        )


def layout(*, rules: int, token_roles: int, token_groups: int) -> Layout:
    """``rules`` rules: 30 % app roles, 5 % scopes, the rest groups; some match the token.

    About a quarter of the token's roles and a fifth of its groups have a rule, and one of
    its scopes; every other rule is for a value the token does not carry. Every 11th rule is
    app-only (a delegated token must skip it even when the value matches), every 7th is for
    both token kinds, and scope rules are delegated, as the model requires.
    """
    n_roles = max(1, rules * 30 // 100)
    n_scopes = max(1, rules * 5 // 100)
    n_groups = max(0, rules - n_roles - n_scopes)
    role_start = token_roles - max(1, token_roles // 4) if token_roles else 0
    group_start = token_groups - max(1, token_groups // 5) if token_groups else 0
    values = [
        *(("app_role", f"Portico.Bench.Role{role_start + i:03d}") for i in range(n_roles)),
        *(("group", group_id(group_start + i)) for i in range(n_groups)),
        ("scope", "Bench.Read"),
        *(("scope", f"Bench.Scope{i:03d}") for i in range(n_scopes - 1)),
    ]
    rows = []
    for i, (kind, value) in enumerate(values[:rules]):
        kinds = "delegated"
        if kind != "scope" and i % 11 == 10:
            kinds = "app"
        elif kind != "scope" and i % 7 == 6:
            kinds = "both"
        rows.append((kind, value, kinds))
    return Layout(
        roles=[f"Portico.Bench.Role{i:03d}" for i in range(token_roles)],
        groups=[group_id(i) for i in range(token_groups)],
        scopes="access_as_user Bench.Read",
        rules=rows,
    )


def save_layout(path: Path, value: Layout) -> None:
    path.write_text(json.dumps(asdict(value)))


def load_layout(path: Path) -> Layout:
    raw: dict[str, Any] = json.loads(path.read_text())
    raw["rules"] = [tuple(row) for row in raw["rules"]]
    return Layout(**raw)


# --- the writer (runs with Django configured like gunicorn) ---------------------------------
def _create(value: Layout) -> None:
    """Replace any benchmark rules with the layout's, targets included, all active."""
    from django.contrib.auth.models import Group, Permission

    from apps.rbac.models import MappingRule

    perms = list(Permission.objects.order_by("content_type__app_label", "codename"))
    MappingRule.objects.all().delete()
    groups = []
    for g in range(TARGET_GROUPS):
        group, _ = Group.objects.get_or_create(name=f"Bench group {g:02d}")
        start = g * PERMISSIONS_PER_GROUP
        group.permissions.set(perms[(start + k) % len(perms)] for k in range(PERMISSIONS_PER_GROUP))
        groups.append(group)
    for i, (kind, source, kinds) in enumerate(value.rules):
        rule = MappingRule.objects.create(
            source_kind=kind,
            source_value=source,
            label=f"Bench {kind} {i}",
            token_kinds=kinds,
            grants_staff=i % 50 == 0,
        )
        rule.permissions.set(perms[(3 * i + k) % len(perms)] for k in range(1 + i % 3))
        if i % 4 == 0:
            rule.groups.add(groups[(i // 4) % TARGET_GROUPS])


def write(command: str, value: Layout) -> int:
    """Apply ``command`` in one transaction; the version is bumped after it commits."""
    from django.db import transaction

    from apps.rbac.models import MappingRule
    from apps.rbac.resolution import bump_version

    with transaction.atomic():
        if command == "create":
            _create(value)
        else:
            MappingRule.objects.update(is_active=command == "activate")
        transaction.on_commit(bump_version)  # queryset.update() sends no signal of its own
    return MappingRule.objects.filter(is_active=True).count()


def timing(value: Layout, calls: int = 2000, rounds: int = 3) -> dict[str, float]:
    """CPU us per call of the resolution steps for the layout's token, best of ``rounds``.

    ``grant_for_claims`` is what authentication runs per request (the Redis GET of the
    version included); ``rules_matching`` is the look-up alone, against the warm snapshot.
    """
    from apps.rbac import resolution
    from apps.rbac.simulation import claims_for_simulation

    # A delegated token's claims (it has scp), built as the simulator builds them.
    claims = claims_for_simulation(
        {"scp": value.scopes, "roles": value.roles, "groups": value.groups}
    )
    snapshot = resolution.current_snapshot()

    def grant() -> object:
        return resolution.grant_for_claims(claims=claims)

    def matching() -> object:
        return resolution.rules_matching(
            snapshot=snapshot,
            kind=claims.kind,
            roles=claims.roles,
            groups=claims.groups,
            scopes=claims.scopes,
        )

    def best(work: Callable[[], object]) -> float:
        samples = []
        for _ in range(rounds):
            started = time.process_time()
            for _ in range(calls):
                work()
            samples.append((time.process_time() - started) / calls * 1e6)
        return min(samples)

    return {"grant_for_claims": best(grant), "rules_matching": best(matching)}


def main(argv: list[str]) -> int:
    """Apply a command; print the active rules, then (``--time``) the timing as JSON."""
    time_it = "--time" in argv
    argv = [arg for arg in argv if arg != "--time"]
    if len(argv) != 2 or argv[0] not in {"create", "activate", "deactivate"}:
        print("usage: python -m benchmarks.rbac_rules create|activate|deactivate LAYOUT [--time]")
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    value = load_layout(Path(argv[1]))
    print(write(argv[0], value))
    if time_it:
        print(json.dumps(timing(value)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
