"""``/api/metrics``: the fleet's counters in Prometheus' text format, for scrapers only.

With Redis, the totals of every process (``apps.core.metrics_flush``); without it, or while
it is down, the answering process's own, which the body (``portico_metrics_scope``) and the
``Portico-Metrics-Scope`` header say, so that a scraper can tell a fallback from a reset.

A scraper is a daemon with an app-only token whose app role a mapping rule maps to the
permission ``core.view_metrics`` (apps/core/models.py); users get it the same way, through
their roles, groups or scopes. Without it: 401 without a token, 403 with one.
"""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.views import APIView

from apps.api.permissions import require_permissions
from apps.core import metrics, metrics_flush


class MetricsView(APIView):
    """Prometheus exposition of the counters; requires ``core.view_metrics``."""

    permission_classes = [require_permissions("core.view_metrics")]

    @extend_schema(
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="Prometheus text exposition format 0.0.4"
            )
        }
    )
    def get(self, request: Request) -> HttpResponse:
        body, scope = metrics_flush.exposition()
        response = HttpResponse(body, content_type=metrics.TEXT_FORMAT)
        response["Cache-Control"] = "no-store"
        response["Portico-Metrics-Scope"] = scope
        return response
