"""Thin API views: liveness, readiness and the caller's identity."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.openapi.responses import HealthResponse, MeResponse, ReadyResponse
from apps.core.conf import portico_settings
from apps.core.db_probe import database_answers
from apps.entra_auth.claims import Claims
from apps.entra_auth.runtime import issuer_directory
from apps.entra_auth.shared_cache import tolerant_cache
from apps.rbac.backends import grant_of
from apps.rbac.resolution import Grant


class HealthView(APIView):
    """Liveness: the process answers. No authentication, no database, no cache."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(responses=HealthResponse)
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class ReadyView(APIView):
    """Readiness: database and signing keys; 503 naming what is not ready.

    A shared-cache outage is reported as ``degraded`` but keeps the task in service: every
    cache user falls back to process memory, and pulling all tasks out of the load balancer
    would turn a degradation into an outage.
    """

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: ReadyResponse,
            503: OpenApiResponse(ReadyResponse, description="Not ready: see not_ready"),
        }
    )
    def get(self, request: Request) -> Response:
        not_ready = [
            name
            for name, ok in (("database", _database_ok()), ("signing_keys", _keys_ok()))
            if not ok
        ]
        degraded = [] if _cache_ok() else ["cache"]
        body = {
            "status": "not_ready" if not_ready else "ready",
            "not_ready": not_ready,
            "degraded": degraded,
        }
        response = Response(body, status=503 if not_ready else 200)
        response["Cache-Control"] = "no-store"
        return response


def _database_ok() -> bool:
    # In a thread with a deadline: libpq cannot time a connection out in under 2 s.
    return database_answers(deadline=portico_settings().ready_database_timeout_seconds)


def _keys_ok() -> bool:
    return all(trusted.store.is_ready() for trusted in issuer_directory().all)


def _cache_ok() -> bool:
    tolerant_cache.set("ready:probe", "1", 10)
    return tolerant_cache.get("ready:probe") == "1"


class MeView(APIView):
    """Who the token says the caller is, and what the mappings let it do."""

    @extend_schema(responses=MeResponse)
    def get(self, request: Request) -> Response:
        claims: Claims = request.auth
        user = request.user
        grant = grant_of(user) or Grant()
        return Response(
            {
                "oid": claims.oid,
                "tid": claims.tid,
                "name": user.display_name,
                "username": user.preferred_username,
                "token_type": claims.kind.value,
                "scopes": sorted(claims.scopes),
                "roles": sorted(claims.roles),
                "groups": sorted(claims.groups),
                "groups_overage": claims.groups_overage,
                "permissions": sorted(grant.permissions),
                "is_staff": grant.is_staff,
                "is_superuser": grant.is_superuser,
                "matched_rules": [
                    {"id": r.id, "kind": r.source_kind, "value": r.source_value, "label": r.label}
                    for r in grant.rules
                ],
            }
        )
