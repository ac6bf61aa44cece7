"""``python manage.py seed_demo``: groups, active rules and projects for the dev personas.

Idempotent: what exists is kept as it is (an edit made in the admin is never overwritten),
what is missing is created. Rules are written through ``apps.rbac.services`` (audited,
``via="seed"``). Dev only, unless ``--force``: default rules must not appear in uat or prod
by accident.
"""

from __future__ import annotations

from argparse import ArgumentParser
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from apps.core.conf import portico_settings
from apps.projects.models import Project
from apps.rbac import services
from apps.rbac.models import MappingRule, SourceKind, TokenKinds

VIA = "seed"
GROUPS = {
    "Project readers": ("view",),
    "Project editors": ("view", "add", "change"),
    "Project admins": ("view", "add", "change", "delete"),
}


@dataclass(frozen=True)
class SeedRule:
    value: str
    label: str
    group: str
    token_kinds: str = TokenKinds.DELEGATED
    grants_staff: bool = False


RULES = (
    SeedRule("Portico.Reader", "Readers (users)", "Project readers"),
    SeedRule("Portico.Editor", "Editors (users)", "Project editors"),
    SeedRule("Portico.Admin", "Administrators (users)", "Project admins", grants_staff=True),
    SeedRule("Portico.Read", "Daemons: read", "Project readers", token_kinds=TokenKinds.APP),
)
PROJECTS = {
    "Apollo": "Moving the order service to containers.",
    "Borealis": "A reporting dashboard for the sales team.",
    "Cassini": "Retiring the legacy file shares.",
}


class Command(BaseCommand):
    help = "Create the demo groups, mapping rules and projects (dev only; idempotent)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--force", action="store_true", help="run even when PORTICO_ENV is not dev"
        )

    def handle(self, *args: Any, force: bool = False, **options: Any) -> None:
        env = portico_settings().env
        if env != "dev" and not force:
            raise CommandError(
                f"seed_demo creates default rules; PORTICO_ENV is {env!r}, not 'dev'. "
                "Use --force to run it anyway."
            )
        with transaction.atomic():
            groups = {name: self._group(name, actions) for name, actions in GROUPS.items()}
            created = sum(self._rule(rule, groups[rule.group]) for rule in RULES)
            projects = sum(self._project(name, text) for name, text in PROJECTS.items())
        self.stdout.write(
            f"seed_demo: {created} rule(s) and {projects} project(s) created; "
            f"{len(RULES) - created} rule(s) and {len(PROJECTS) - projects} project(s) kept."
        )

    @staticmethod
    def _group(name: str, actions: tuple[str, ...]) -> Group:
        group, _ = Group.objects.get_or_create(name=name)
        wanted = Permission.objects.filter(
            content_type__app_label="projects", codename__in=[f"{a}_project" for a in actions]
        )
        missing = wanted.exclude(pk__in=group.permissions.values("pk"))
        if missing.exists():
            group.permissions.add(*missing)
        return group

    @staticmethod
    def _rule(rule: SeedRule, group: Group) -> bool:
        if MappingRule.objects.filter(
            source_kind=SourceKind.APP_ROLE, source_value=rule.value
        ).exists():
            return False
        services.mapping_save(
            rule=None,
            data={
                "source_kind": SourceKind.APP_ROLE,
                "source_value": rule.value,
                "label": rule.label,
                "token_kinds": rule.token_kinds,
                "grants_staff": rule.grants_staff,
                "is_active": True,
                "notes": "Created by manage.py seed_demo.",
            },
            groups=[group],
            via=VIA,
        )
        return True

    @staticmethod
    def _project(name: str, description: str) -> bool:
        return Project.objects.get_or_create(name=name, defaults={"description": description})[1]
