"""The two admin pages beside the rule list: the simulator and the app-manifest import.

Both are plain views mounted by :class:`~apps.rbac.admin.MappingRuleAdmin.get_urls` inside
``admin_site.admin_view`` (staff login, CSRF, no caching); they check their own permission
and leave the work to the services, as the rest of the admin does.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from apps.rbac.forms import ManifestForm, SimulationForm
from apps.rbac.manifest import ManifestError, ManifestImportReport, mapping_import_manifest
from apps.rbac.models import MappingRule, SourceKind, TokenKinds
from apps.rbac.resolution import TOKEN_KINDS_REACHED, CompiledRule
from apps.rbac.simulation import Simulation, SimulationInputError, mapping_simulate

SIMULATE_PERMISSION = "rbac.simulate_mappingrule"
_KIND_LABELS = dict(SourceKind.choices)


def simulate_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Paste claims or a token, see what the active rules would grant it. POST only: a token
    in a query string would end up in access logs."""
    if not request.user.has_perm(SIMULATE_PERMISSION):
        raise PermissionDenied
    form = SimulationForm(request.POST if request.method == "POST" else None)
    result = None
    if form.is_valid():
        try:
            simulation = mapping_simulate(document=form.document)
        except SimulationInputError as exc:
            form.add_error("source", str(exc))
        else:
            result = simulation_result(simulation, input_kind=form.input_kind)
            result["subject"] = _subject(form.document)
            result["document"] = json.dumps(form.document, indent=2, sort_keys=True)
    context = {
        **_page_context(request, model_admin, title="Mapping simulator"),
        "form": form,
        "result": result,
    }
    return render(request, "admin/rbac/mappingrule/simulate.html", context)


def simulation_result(simulation: Simulation, *, input_kind: str) -> dict[str, Any]:
    """What the simulator page shows, as plain values for the template."""
    claims, grant = simulation.claims, simulation.grant
    return {
        "input_kind": input_kind,
        "token_kind": claims.kind.value,
        "rules": [_rule_row(rule) for rule in grant.rules],
        "permissions": _permission_rows(grant.permissions),
        "is_staff": grant.is_staff,
        "is_superuser": grant.is_superuser,
        "admin_role": grant.admin_role,
        "groups_overage": claims.groups_overage,
        "unmatched": _unmatched_rows(simulation),
    }


def _subject(document: dict[str, Any]) -> str:
    """Who the claims speak for, as pasted (the simulation fills absent ids with placeholders)."""
    for name in ("preferred_username", "name", "upn", "azp", "appid", "oid", "sub"):
        if isinstance(document.get(name), str) and document[name]:
            return document[name]
    return ""


def _rule_row(rule: CompiledRule) -> dict[str, Any]:
    return {
        "url": reverse("admin:rbac_mappingrule_change", args=[rule.id]),
        "kind": _KIND_LABELS.get(rule.source_kind, rule.source_kind),
        "value": rule.source_value,
        "label": rule.label,
        "permissions": sorted(rule.permissions),
        "grants_staff": rule.grants_staff,
        "grants_superuser": rule.grants_superuser,
    }


def _permission_rows(granted: frozenset[str]) -> list[tuple[str, str]]:
    """``(app_label.codename, readable name)``, sorted; one query for the names."""
    if not granted:
        return []
    wanted = Q()
    for perm in granted:
        app_label, _, codename = perm.partition(".")
        wanted |= Q(content_type__app_label=app_label, codename=codename)
    rows = Permission.objects.filter(wanted).values_list(
        "content_type__app_label", "codename", "name"
    )
    names = {f"{app_label}.{codename}": name for app_label, codename, name in rows}
    return [(perm, names.get(perm, "")) for perm in sorted(granted)]


def _unmatched_rows(simulation: Simulation) -> list[dict[str, str]]:
    """Carried values no active rule maps, and why: no rule, inactive, or other token kind."""
    kind = simulation.claims.kind
    wanted = Q()
    for source_kind, value in simulation.unmatched:
        wanted |= Q(source_kind=source_kind, source_value=value)
    rules = {
        (rule.source_kind, rule.source_value): rule
        for rule in (MappingRule.objects.filter(wanted) if simulation.unmatched else ())
    }
    rows = []
    for source_kind, value in simulation.unmatched:
        rule = rules.get((source_kind, value))
        if source_kind == SourceKind.GROUP and simulation.claims.groups_overage:
            reason = "groups overage: group rules do not apply to this token"
        elif rule is None:
            reason = "no rule"
        elif not rule.is_active:
            reason = "its rule is inactive"
        elif kind not in TOKEN_KINDS_REACHED[TokenKinds(rule.token_kinds)]:
            reason = f"its rule applies to {rule.get_token_kinds_display().lower()}"
        else:  # changed a moment ago, after this process loaded its snapshot
            reason = "its rule changed just now: simulate again"
        url = reverse("admin:rbac_mappingrule_change", args=[rule.pk]) if rule else ""
        kind_label = _KIND_LABELS.get(source_kind, source_kind)
        rows.append({"kind": kind_label, "value": value, "reason": reason, "url": url})
    return rows


def import_manifest_view(request: HttpRequest, model_admin: admin.ModelAdmin) -> HttpResponse:
    """Create inactive skeletons from an app manifest's ``appRoles``; needs the add permission."""
    if not model_admin.has_add_permission(request):
        raise PermissionDenied
    post = request.method == "POST"
    form = ManifestForm(request.POST if post else None, request.FILES if post else None)
    if form.is_valid():
        try:
            report = mapping_import_manifest(document=form.document, actor=request.user)
        except ManifestError as exc:
            for problem in exc.problems:
                form.add_error(None, problem)
        else:
            _announce(request, report)
            changelist = reverse("admin:rbac_mappingrule_changelist")
            query = urlencode({"source_kind__exact": SourceKind.APP_ROLE, "is_active__exact": 0})
            return HttpResponseRedirect(f"{changelist}?{query}")
    context = {
        **_page_context(request, model_admin, title="Import app roles from an Entra app manifest"),
        "form": form,
    }
    return render(request, "admin/rbac/mappingrule/import_manifest.html", context)


def _announce(request: HttpRequest, report: ManifestImportReport) -> None:
    if report.created:
        messages.success(
            request,
            f"Created {len(report.created)} inactive rule(s) without targets: "
            f"{', '.join(report.created)}. Choose their targets, then activate them.",
        )
    else:
        messages.info(request, "No new app role in the manifest: nothing was created.")
    if report.existing:
        messages.info(request, f"Skipped, already mapped: {', '.join(report.existing)}.")
    if report.disabled:
        messages.warning(request, f"Skipped, disabled in Entra: {', '.join(report.disabled)}.")


def _page_context(
    request: HttpRequest, model_admin: admin.ModelAdmin, *, title: str
) -> dict[str, Any]:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
    }


def document_diff(before: dict | None, after: dict | None) -> list[dict[str, Any]]:
    """One row per field of two rule documents (either may be None: create, delete).

    Each side is a list of ``(text, state)``; state is "removed" / "added" for what changed,
    item by item for the target lists, so a long permission list shows only its difference.
    """
    before, after = before or {}, after or {}
    both = bool(before) and bool(after)
    rows = []
    for field in dict.fromkeys([*before, *after]):
        old, new = before.get(field), after.get(field)
        if isinstance(old, list) or isinstance(new, list):
            old_items, new_items = old or [], new or []
        else:
            old_items = [_shown(old)] if before else []
            new_items = [_shown(new)] if after else []
        changed = both and old != new
        rows.append(
            {
                "field": field,
                "changed": changed,
                "before": [
                    (i, "removed" if changed and i not in new_items else "") for i in old_items
                ],
                "after": [
                    (i, "added" if changed and i not in old_items else "") for i in new_items
                ],
            }
        )
    return rows


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "—" if value in (None, "") else str(value)
