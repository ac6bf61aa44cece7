"""Input and output shapes of the RBAC and sample-domain APIs; no writes happen here.

Rule targets travel by name (group name, ``app_label.codename``), as in the export format,
so a script written against one environment means the same in another, where ids differ.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from rest_framework import serializers

from apps.projects.models import Project
from apps.rbac.models import MappingRule
from apps.rbac.transfer_format import permission_name


def _unknown(names: Iterable[str], found: Iterable[str], what: str) -> None:
    missing = sorted(set(names) - set(found))
    if missing:
        raise serializers.ValidationError([f"Unknown {what}: {name}" for name in missing])


class _NamesField(serializers.ListField):
    """A to-many relation read and written as a sorted list of names; unknown names → 400."""

    child = serializers.CharField(trim_whitespace=False)
    what = ""

    def to_representation(self, value: Any) -> list[str]:
        return sorted(self.name_of(obj) for obj in value.all())

    def to_internal_value(self, data: Any) -> list[Any]:
        names = set(super().to_internal_value(data))
        found = {self.name_of(obj): obj for obj in self.lookup(names)} if names else {}
        _unknown(names, found, self.what)
        return [found[name] for name in sorted(names)]

    def name_of(self, obj: Any) -> str:
        raise NotImplementedError

    def lookup(self, names: set[str]) -> Iterable[Any]:
        raise NotImplementedError


class GroupNamesField(_NamesField):
    what = "group"

    def name_of(self, obj: Group) -> str:
        return obj.name

    def lookup(self, names: set[str]) -> Iterable[Group]:
        return Group.objects.filter(name__in=names)


class PermissionNamesField(_NamesField):
    what = "permission"

    def name_of(self, obj: Permission) -> str:
        return permission_name(obj)

    def lookup(self, names: set[str]) -> Iterable[Permission]:
        malformed = sorted(name for name in names if name.count(".") != 1)
        if malformed:
            raise serializers.ValidationError(
                [f'Expected "app_label.codename", got "{name}"' for name in malformed]
            )
        wanted = Q()
        for name in names:
            app_label, codename = name.split(".")
            wanted |= Q(content_type__app_label=app_label, codename=codename)
        return Permission.objects.filter(wanted).select_related("content_type")


class MappingRuleSerializer(serializers.ModelSerializer):
    """A rule; the model's own ``full_clean`` (in the service) judges the whole of it."""

    groups = GroupNamesField(required=False)
    permissions = PermissionNamesField(required=False)

    class Meta:
        model = MappingRule
        fields = [
            "id",
            "source_kind",
            "source_value",
            "label",
            "token_kinds",
            "groups",
            "permissions",
            "grants_staff",
            "grants_superuser",
            "is_active",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # Uniqueness of (kind, value) is left to full_clean, so the API says what admin says.
        validators: list[Any] = []
        # Values compare exactly: " Orders.Read" is refused by the model, never trimmed here.
        extra_kwargs = {"source_value": {"trim_whitespace": False}}


class PermissionSerializer(serializers.ModelSerializer):
    """A permission a rule (or a group it targets) can grant."""

    permission = serializers.SerializerMethodField()
    content_type = serializers.SerializerMethodField()

    class Meta:
        model = Permission
        fields = ["permission", "name", "content_type"]

    def get_permission(self, obj: Permission) -> str:
        return permission_name(obj)

    def get_content_type(self, obj: Permission) -> str:
        return f"{obj.content_type.app_label}.{obj.content_type.model}"


class SimulationInputSerializer(serializers.Serializer):
    """Exactly one of ``claims`` (a JSON object) or ``token`` (decoded, never trusted)."""

    claims = serializers.DictField(required=False)
    token = serializers.CharField(required=False, trim_whitespace=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("claims" in attrs) == ("token" in attrs):
            raise serializers.ValidationError('Send exactly one of "claims" or "token".')
        return attrs


class ProjectSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "is_archived",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def get_created_by(self, obj: Project) -> str | None:
        user = obj.created_by
        if user is None:
            return None
        return user.display_name or user.preferred_username or user.get_username()
