"""Documentation-only serializers: the response bodies of the API's plain ``APIView``s.

The views build these bodies as dicts (they are thin and fast); these classes only describe
them to drf-spectacular. ``tests/api/test_schemathesis.py`` checks real responses against
them, so a view that changes its body without changing its description fails a test.
"""

from __future__ import annotations

from rest_framework import serializers

from apps.entra_auth.claims import TokenKind

_TOKEN_KINDS = [kind.value for kind in TokenKind]


class _Strings(serializers.ListField):
    child = serializers.CharField()


class HealthResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])


class ReadyResponse(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "not_ready"])
    not_ready = serializers.ListField(
        child=serializers.ChoiceField(choices=["database", "signing_keys"])
    )
    degraded = serializers.ListField(child=serializers.ChoiceField(choices=["cache"]))


class MatchedRule(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="app_role, group or scope")
    value = serializers.CharField()
    label = serializers.CharField(allow_blank=True)


class MeResponse(serializers.Serializer):
    """The caller as Portico understood the token, and what the mappings grant it."""

    oid = serializers.CharField()
    tid = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    username = serializers.CharField(allow_blank=True)
    token_type = serializers.ChoiceField(choices=_TOKEN_KINDS)
    scopes = _Strings()
    roles = _Strings()
    groups = _Strings()
    groups_overage = serializers.BooleanField()
    permissions = _Strings(help_text="app_label.codename")
    is_staff = serializers.BooleanField()
    is_superuser = serializers.BooleanField()
    matched_rules = MatchedRule(many=True)


class SimulatedRule(MatchedRule):
    permissions = _Strings()
    grants_staff = serializers.BooleanField()
    grants_superuser = serializers.BooleanField()


class Unmatched(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()


class SimulationResponse(serializers.Serializer):
    """What the mappings would grant a token with these claims (nothing is trusted)."""

    token_type = serializers.ChoiceField(choices=_TOKEN_KINDS)
    matched_rules = SimulatedRule(many=True)
    permissions = _Strings()
    is_staff = serializers.BooleanField()
    is_superuser = serializers.BooleanField()
    admin_role = serializers.BooleanField()
    groups_overage = serializers.BooleanField()
    unmatched = Unmatched(many=True)
