"""Django admin for mapping rules and their audit trail.

Every write made here goes through :mod:`apps.rbac.services`, like the API's and the import's,
so the same validation applies and each change leaves a :class:`MappingAudit` entry (who,
``via="admin"``, before → after). The audit trail itself is read-only, even for superusers.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.timezone import localtime

from apps.rbac import admin_views, services
from apps.rbac.models import MappingAudit, MappingRule

VIA = "admin"
RECENT_AUDIT_ENTRIES = 5
_SHORT_TOKEN_KINDS = {"delegated": "Delegated", "app": "App-only", "both": "Both"}


class TargetFilter(admin.SimpleListFilter):
    """Rules by what they grant: a given group, direct permissions, or nothing at all."""

    title = "target"
    parameter_name = "target"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        groups = Group.objects.filter(mapping_rules__isnull=False).distinct().order_by("name")
        return [
            ("permissions", "Grants permissions directly"),
            ("none", "Grants nothing (no targets)"),
            *((f"group-{group.pk}", f"Group: {group.name}") for group in groups),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value() or ""
        has_permissions = Exists(
            MappingRule.permissions.through.objects.filter(mappingrule_id=OuterRef("pk"))
        )
        if value == "permissions":
            return queryset.filter(has_permissions)
        if value == "none":
            return queryset.filter(~has_permissions, groups__isnull=True)
        if value.startswith("group-"):
            group_id = value.removeprefix("group-")
            return queryset.filter(groups__pk=group_id) if group_id.isdigit() else queryset.none()
        return queryset


@admin.register(MappingRule)
class MappingRuleAdmin(admin.ModelAdmin):
    list_display = (
        "source_kind",
        "source_value",
        "label",
        "token_kinds_short",
        "targets",
        "flags",
        "is_active",
        "updated",
    )
    list_display_links = ("source_value",)
    list_filter = (
        "source_kind",
        "is_active",
        "token_kinds",
        TargetFilter,
        "grants_staff",
        "grants_superuser",
    )
    search_fields = ("source_value", "label")
    search_help_text = "Search by source value or label (tokens themselves match exact case)."
    # filter_horizontal: a client-side filter over hundreds of permissions, no extra endpoint.
    filter_horizontal = ("groups", "permissions")
    actions = ("activate", "deactivate")
    readonly_fields = ("audit_trail", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("source_kind", "source_value", "label", "token_kinds", "is_active")}),
        (
            "Targets",
            {
                "fields": ("groups", "permissions"),
                "description": "A matching token gets these permissions and every permission "
                "of these groups. Nothing is written to the user's own groups.",
            },
        ),
        (
            "Admin site flags",
            {
                "fields": ("grants_staff", "grants_superuser"),
                "description": "Superuser grants every permission: keep it for break-glass roles.",
            },
        ),
        ("Notes", {"fields": ("notes",)}),
        ("History", {"fields": ("audit_trail", "created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return (
            super()
            .get_queryset(request)
            .prefetch_related("groups")
            .annotate(permission_count=Count("permissions", distinct=True))
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """The history fieldset once the rule exists; its audit entries only for their readers."""
        if obj is None:
            return self.fieldsets[:-1]
        if request.user.has_perm("rbac.view_mappingaudit"):
            return self.fieldsets
        return (*self.fieldsets[:-1], ("History", {"fields": ("created_at", "updated_at")}))

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "permissions":  # each option's label names its content type
            kwargs["queryset"] = db_field.related_model.objects.select_related("content_type")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    # --- columns ---------------------------------------------------------------------------
    @admin.display(description="token kinds", ordering="token_kinds")
    def token_kinds_short(self, rule: MappingRule) -> str:
        return _SHORT_TOKEN_KINDS.get(rule.token_kinds, rule.token_kinds)

    @admin.display(description="targets")
    def targets(self, rule: MappingRule) -> str:
        parts = [", ".join(sorted(group.name for group in rule.groups.all()))]
        count = getattr(rule, "permission_count", None)
        if count is None:
            count = rule.permissions.count()
        if count:
            parts.append(f"{count} permission{'s' if count != 1 else ''}")
        return " + ".join(part for part in parts if part) or "—"

    @admin.display(description="flags")
    def flags(self, rule: MappingRule) -> str:
        shown = [("staff", rule.grants_staff), ("superuser", rule.grants_superuser)]
        return ", ".join(name for name, on in shown if on) or "—"

    @admin.display(description="updated", ordering="updated_at")
    def updated(self, rule: MappingRule) -> str:
        return date_format(localtime(rule.updated_at), "Y-m-d H:i")

    @admin.display(description="audit trail")
    def audit_trail(self, rule: MappingRule) -> SafeString:
        entries = MappingAudit.objects.filter(rule_id=rule.pk).select_related("actor")
        context = {
            "entries": entries[:RECENT_AUDIT_ENTRIES],
            "total": entries.count(),
            "all_url": audit_changelist_url(rule_id=rule.pk),
        }
        return render_to_string("admin/rbac/mappingrule/audit_trail.html", context)

    # --- writes, all through the services --------------------------------------------------
    def save_model(
        self, request: HttpRequest, obj: MappingRule, form: ModelForm, change: bool
    ) -> None:
        """Save fields and targets in one audited service call.

        ``obj`` already holds the submitted values, so the "before" snapshot is read from a
        fresh, locked copy of the row; the targets come from the form, so the "after"
        snapshot has them (``save_related`` then has nothing left to save).
        """
        stored = MappingRule.objects.select_for_update().get(pk=obj.pk) if change else None
        data = form.cleaned_data
        saved = services.mapping_save(
            rule=stored,
            data={field: data[field] for field in services.RULE_FIELDS if field in data},
            groups=data.get("groups"),
            permissions=data.get("permissions"),
            actor=request.user,
            via=VIA,
        )
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj._state.adding, obj._state.db = False, saved._state.db

    def save_related(
        self, request: HttpRequest, form: ModelForm, formsets: Any, change: bool
    ) -> None:
        # Not form.save_m2m(): save_model already set the targets, audited.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: MappingRule) -> None:
        services.mapping_delete(rule=obj, actor=request.user, via=VIA)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for rule in queryset:
            services.mapping_delete(rule=rule, actor=request.user, via=VIA)

    @admin.action(description="Activate selected rules", permissions=["change"])
    def activate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=True)

    @admin.action(description="Deactivate selected rules", permissions=["change"])
    def deactivate(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._set_active(request, queryset, active=False)

    def _set_active(self, request: HttpRequest, queryset: QuerySet, *, active: bool) -> None:
        changed = services.mapping_set_active(
            rules=queryset, active=active, actor=request.user, via=VIA
        )
        verb = "Activated" if active else "Deactivated"
        unchanged = queryset.count() - changed
        note = f" ({unchanged} already {'active' if active else 'inactive'})" if unchanged else ""
        self.message_user(request, f"{verb} {changed} rule(s){note}.", messages.SUCCESS)

    # --- extra pages -----------------------------------------------------------------------
    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("simulate/", wrap(self.simulate_view), name=f"{prefix}_simulate"),
            path(
                "import-manifest/",
                wrap(self.import_manifest_view),
                name=f"{prefix}_import_manifest",
            ),
            *super().get_urls(),  # last: it ends with a catch-all for object ids
        ]

    def simulate_view(self, request: HttpRequest) -> HttpResponse:
        return admin_views.simulate_view(request, self)

    def import_manifest_view(self, request: HttpRequest) -> HttpResponse:
        return admin_views.import_manifest_view(request, self)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {"has_simulate_permission": request.user.has_perm(admin_views.SIMULATE_PERMISSION)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})


def audit_changelist_url(**filters: Any) -> str:
    return f"{reverse('admin:rbac_mappingaudit_changelist')}?{urlencode(filters)}"


@admin.register(MappingAudit)
class MappingAuditAdmin(admin.ModelAdmin):
    """The audit trail: readable by whoever may view it, never editable by anyone."""

    list_display = ("at", "action", "rule", "actor_label", "via", "changed")
    list_filter = ("action", "via")
    search_fields = ("rule_repr", "actor_label", "actor__username")
    date_hierarchy = "at"
    fields = ("at", "action", "rule", "rule_id", "actor", "actor_label", "via", "diff")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        exists = MappingRule.objects.filter(pk=OuterRef("rule_id"))
        return super().get_queryset(request).annotate(rule_exists=Exists(exists))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="rule", ordering="rule_repr")
    def rule(self, entry: MappingAudit) -> str:
        if not getattr(entry, "rule_exists", False):
            return f"{entry.rule_repr} (deleted)" if entry.action == "delete" else entry.rule_repr
        url = reverse("admin:rbac_mappingrule_change", args=[entry.rule_id])
        return format_html('<a href="{}">{}</a>', url, entry.rule_repr)

    @admin.display(description="changed")
    def changed(self, entry: MappingAudit) -> str:
        if entry.before is None or entry.after is None:
            return "created" if entry.before is None else "deleted"
        return ", ".join(
            row["field"]
            for row in admin_views.document_diff(entry.before, entry.after)
            if row["changed"]
        )

    @admin.display(description="before → after")
    def diff(self, entry: MappingAudit) -> SafeString:
        rows = admin_views.document_diff(entry.before, entry.after)
        return render_to_string("admin/rbac/mappingaudit/diff.html", {"rows": rows})
