"""The RBAC API for automation: mapping rules, what can be granted, and the simulator.

Every endpoint is guarded by plain Django permissions, which a mapping rule (or
``PORTICO_RBAC_ADMIN_ROLE``) can itself grant. Writes go through ``apps.rbac.services``, so
the API validates and audits exactly as the admin and the import do.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Permission
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import Q, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.api.openapi.responses import SimulationResponse
from apps.api.permissions import MappedModelPermissions, require_permissions
from apps.api.serializers import (
    MappingRuleSerializer,
    PermissionSerializer,
    SimulationInputSerializer,
)
from apps.rbac import services
from apps.rbac.models import MappingRule, SourceKind, TokenKinds
from apps.rbac.resolution import CompiledRule
from apps.rbac.simulation import (
    Simulation,
    SimulationInputError,
    mapping_simulate,
    untrusted_payload,
)

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def django_to_drf(exc: DjangoValidationError) -> serializers.ValidationError:
    """The model's ``full_clean`` errors as a DRF 400, field by field."""
    if not hasattr(exc, "error_dict"):
        return serializers.ValidationError({api_settings.NON_FIELD_ERRORS_KEY: exc.messages})
    return serializers.ValidationError(
        {
            api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field: messages
            for field, messages in exc.message_dict.items()
        }
    )


def _choice(params: Any, name: str, allowed: list[str]) -> str | None:
    value = params.get(name)
    if value is not None and value not in allowed:
        raise serializers.ValidationError({name: [f"Expected one of {', '.join(allowed)}."]})
    return value


def _flag(params: Any, name: str) -> bool | None:
    value = params.get(name)
    if value is None:
        return None
    if value.lower() not in _TRUE | _FALSE:
        raise serializers.ValidationError({name: ["Expected true or false."]})
    return value.lower() in _TRUE


class MappingRuleViewSet(viewsets.ModelViewSet):
    """``/api/rbac/mappings/``: ``?source_kind=``, ``?token_kinds=``, ``?is_active=``,
    ``?search=`` (value, label, notes)."""

    serializer_class = MappingRuleSerializer
    permission_classes = [MappedModelPermissions]

    def get_queryset(self) -> QuerySet[MappingRule]:
        return MappingRule.objects.prefetch_related("groups", "permissions__content_type")

    def filter_queryset(self, queryset: QuerySet[MappingRule]) -> QuerySet[MappingRule]:
        params = self.request.query_params
        wanted = {
            "source_kind": _choice(params, "source_kind", SourceKind.values),
            "token_kinds": _choice(params, "token_kinds", TokenKinds.values),
            "is_active": _flag(params, "is_active"),
        }
        queryset = queryset.filter(**{k: v for k, v in wanted.items() if v is not None})
        if search := params.get("search", "").strip():
            queryset = queryset.filter(
                Q(source_value__icontains=search)
                | Q(label__icontains=search)
                | Q(notes__icontains=search)
            )
        return queryset

    def perform_create(self, serializer: MappingRuleSerializer) -> None:
        self._save(serializer, rule=None)

    def perform_update(self, serializer: MappingRuleSerializer) -> None:
        self._save(serializer, rule=serializer.instance)

    def perform_destroy(self, instance: MappingRule) -> None:
        services.mapping_delete(rule=instance, actor=self.request.user, via="api")

    def _save(self, serializer: MappingRuleSerializer, *, rule: MappingRule | None) -> None:
        data = dict(serializer.validated_data)
        try:
            saved = services.mapping_save(
                rule=rule,
                data=data,
                groups=data.pop("groups", None),
                permissions=data.pop("permissions", None),
                actor=self.request.user,
                via="api",
            )
        except DjangoValidationError as exc:
            raise django_to_drf(exc) from exc
        except IntegrityError as exc:  # a concurrent write won the race past full_clean
            raise serializers.ValidationError(
                {api_settings.NON_FIELD_ERRORS_KEY: ["A rule for this source already exists."]}
            ) from exc
        serializer.instance = self.get_queryset().get(pk=saved.pk)


class PermissionListView(generics.ListAPIView):
    """``/api/rbac/permissions/``: every permission a rule can grant; ``?search=``."""

    serializer_class = PermissionSerializer
    permission_classes = [require_permissions("rbac.view_mappingrule")]

    def get_queryset(self) -> QuerySet[Permission]:
        queryset = Permission.objects.select_related("content_type").order_by(
            "content_type__app_label", "codename"
        )
        search = self.request.query_params.get("search", "").strip()
        if not search:
            return queryset
        app_label, dot, codename = search.partition(".")
        if dot:  # "projects.add" narrows to one app's permissions
            return queryset.filter(
                content_type__app_label__iexact=app_label, codename__icontains=codename
            )
        return queryset.filter(
            Q(codename__icontains=search)
            | Q(name__icontains=search)
            | Q(content_type__app_label__icontains=search)
            | Q(content_type__model__icontains=search)
        )


class SimulateView(APIView):
    """``POST /api/rbac/simulate/`` with ``{"claims": {...}}`` or ``{"token": "..."}``.

    The token is decoded without being trusted: the simulator explains, it never
    authenticates. POST only, so that a token never lands in an access log's query string.
    """

    permission_classes = [require_permissions("rbac.simulate_mappingrule")]

    @extend_schema(request=SimulationInputSerializer, responses=SimulationResponse)
    def post(self, request: Request) -> Response:
        source = SimulationInputSerializer(data=request.data)
        source.is_valid(raise_exception=True)
        field, value = next(iter(source.validated_data.items()))
        try:
            document = value if field == "claims" else untrusted_payload(value)
            simulation = mapping_simulate(document=document)
        except SimulationInputError as exc:
            raise serializers.ValidationError({field: [str(exc)]}) from exc
        response = Response(simulation_body(simulation))
        response["Cache-Control"] = "no-store"
        return response


def simulation_body(simulation: Simulation) -> dict[str, Any]:
    claims, grant = simulation.claims, simulation.grant
    return {
        "token_type": claims.kind.value,
        "matched_rules": [_rule_body(rule) for rule in grant.rules],
        "permissions": sorted(grant.permissions),
        "is_staff": grant.is_staff,
        "is_superuser": grant.is_superuser,
        "admin_role": grant.admin_role,
        "groups_overage": claims.groups_overage,
        "unmatched": [{"kind": kind, "value": value} for kind, value in simulation.unmatched],
    }


def _rule_body(rule: CompiledRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "kind": rule.source_kind,
        "value": rule.source_value,
        "label": rule.label,
        "permissions": sorted(rule.permissions),
        "grants_staff": rule.grants_staff,
        "grants_superuser": rule.grants_superuser,
    }
