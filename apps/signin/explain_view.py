"""The admin page of the token explainer (``apps/entra_auth/explain.py``): paste a token,
see each validation step.

Mounted in ``config/urls.py`` inside ``admin.site.admin_view`` (staff sign-in, CSRF, no
caching). POST only for the token: in a query string it would reach access logs. The page
never echoes the token back, not even into the form, and nothing is stored or logged.
Needs the mapping simulator's permission: the page shows what the mapping would grant.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from apps.entra_auth.explain import Explanation, Status, explain_token
from apps.rbac.admin_views import SIMULATE_PERMISSION, simulation_result
from apps.signin.forms import ExplainTokenForm


@require_http_methods(["GET", "POST"])
def explain_token_view(request: HttpRequest) -> HttpResponse:
    """Staff holding ``rbac.simulate_mappingrule`` only."""
    if not request.user.has_perm(SIMULATE_PERMISSION):
        raise PermissionDenied
    form = ExplainTokenForm(request.POST if request.method == "POST" else None)
    explanation = explain_token(form.cleaned_data["token"]) if form.is_valid() else None
    context = {
        **admin.site.each_context(request),
        "title": "Token explainer",
        "form": form,
        "explanation": explanation,
        "not_run": [s.title for s in explanation.steps if s.status is Status.NOT_RUN]
        if explanation
        else [],
        "mapping": _mapping(explanation),
    }
    return render(request, "signin/explain_token.html", context)


def _mapping(explanation: Explanation | None) -> dict[str, Any] | None:
    if explanation is None or explanation.simulation is None:
        return None
    return simulation_result(explanation.simulation, input_kind="token")
