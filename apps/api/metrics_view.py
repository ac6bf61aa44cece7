"""``/api/metrics``: the process's counters in Prometheus' text format, for scrapers only.

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
from apps.core import metrics


class MetricsView(APIView):
    """Prometheus exposition of ``apps.core.metrics``; requires ``core.view_metrics``."""

    permission_classes = [require_permissions("core.view_metrics")]

    @extend_schema(
        responses={
            (200, "text/plain"): OpenApiResponse(
                OpenApiTypes.STR, description="Prometheus text exposition format 0.0.4"
            )
        }
    )
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(metrics.render(), content_type=metrics.TEXT_FORMAT)
        response["Cache-Control"] = "no-store"
        return response
