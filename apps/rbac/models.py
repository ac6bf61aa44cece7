"""Admin-managed rules that turn Entra app roles, groups and scopes into Django permissions."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import models


class SourceKind(models.TextChoices):
    APP_ROLE = "app_role", "App role"
    GROUP = "group", "Group"
    SCOPE = "scope", "Scope"


class TokenKinds(models.TextChoices):
    DELEGATED = "delegated", "Delegated (users) only"
    APP = "app", "App-only (daemons) only"
    BOTH = "both", "Both"


class MappingRule(models.Model):
    """When a token carries ``source_value`` as a ``source_kind``, grant the targets.

    Values compare exactly and case-sensitively. ``token_kinds`` keeps an app role meant for
    daemons from being obtained by a user who carries the same value, and the reverse.
    """

    source_kind = models.CharField(max_length=16, choices=SourceKind.choices)
    source_value = models.CharField(
        max_length=256,
        help_text="Role value (e.g. Orders.Read), group object id, or scope name; exact case.",
    )
    label = models.CharField(
        max_length=256, blank=True, help_text="A readable name, e.g. the group's display name."
    )
    token_kinds = models.CharField(
        max_length=16, choices=TokenKinds.choices, default=TokenKinds.DELEGATED
    )
    groups = models.ManyToManyField(Group, blank=True, related_name="mapping_rules")
    permissions = models.ManyToManyField(Permission, blank=True, related_name="mapping_rules")
    grants_staff = models.BooleanField("grants admin site access (is_staff)", default=False)
    grants_superuser = models.BooleanField("grants superuser", default=False)
    is_active = models.BooleanField(default=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["source_kind", "source_value"]
        permissions = [("simulate_mappingrule", "Can run the mapping simulator")]
        constraints = [
            models.UniqueConstraint(
                fields=["source_kind", "source_value"], name="unique_mapping_source"
            ),
        ]

    def __str__(self) -> str:
        shown = f"{self.source_value} ({self.label})" if self.label else self.source_value
        return f"{self.get_source_kind_display()}: {shown}"

    def clean(self) -> None:
        if self.source_value != self.source_value.strip() or not self.source_value:
            raise ValidationError({"source_value": "Must be non-empty, without outer spaces."})
        if self.source_kind == SourceKind.SCOPE and self.token_kinds != TokenKinds.DELEGATED:
            raise ValidationError(
                {"token_kinds": "Scopes only appear in delegated tokens: choose delegated."}
            )


class MappingAudit(models.Model):
    """One change to a rule: who, when, what it was before and after (JSON snapshots)."""

    class Action(models.TextChoices):
        CREATE = "create"
        UPDATE = "update"
        DELETE = "delete"

    rule_id = models.BigIntegerField(db_index=True)
    rule_repr = models.CharField(max_length=300)
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_label = models.CharField(max_length=300, blank=True)
    via = models.CharField(max_length=16, help_text="admin, api, import or shell")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {self.rule_repr}"
