"""Django admin for projects (tenant-scoped). History-like tables are read-only."""

from django.contrib import admin

from crm.admin import TenantScopedAdmin
from projects.models import (
    Acceptance,
    ChangeOrder,
    ChangeOrderEvent,
    ChangeOrderLine,
    ChecklistItem,
    ConstructionCallback,
    DailyLog,
    DesignPlan,
    DesignPlanRevision,
    Inspection,
    Material,
    MaterialReport,
    Project,
    Rectification,
    ShareLink,
    StageHistory,
    StageSetting,
)


class ReadOnlyAdmin(TenantScopedAdmin):
    """Append-only history: visible, never edited or deleted from the admin."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(TenantScopedAdmin):
    list_display = (
        "name",
        "customer",
        "stage",
        "contract_number",
        "contract_amount_fen",
        "project_manager",
        "signed_on",
    )
    list_filter = ("stage",)
    search_fields = ("name", "contract_number", "customer__name")
    readonly_fields = ("stage", "stage_entered_at", "signed_on", "handed_over_on", "cancelled_at")


@admin.register(StageSetting)
class StageSettingAdmin(TenantScopedAdmin):
    list_display = ("stage", "name", "planned_days")


@admin.register(ChecklistItem)
class ChecklistItemAdmin(TenantScopedAdmin):
    list_display = ("position", "category", "title", "is_active")


@admin.register(ChangeOrder)
class ChangeOrderAdmin(ReadOnlyAdmin):
    list_display = ("project", "number", "title", "status", "amount_delta_fen", "decided_at")
    list_filter = ("status",)


@admin.register(Rectification)
class RectificationAdmin(TenantScopedAdmin):
    list_display = ("project", "description", "owner", "due_on", "status")
    list_filter = ("status",)
    readonly_fields = ("status", "closed_at")


@admin.register(Material)
class MaterialAdmin(TenantScopedAdmin):
    list_display = ("project", "category", "name", "brand", "batch_number", "supplier", "room")


@admin.register(ShareLink)
class ShareLinkAdmin(ReadOnlyAdmin):
    list_display = ("project", "prefix", "expires_at", "revoked_at", "last_viewed_at")
    exclude = ("tenant", "key_hash")


@admin.register(ConstructionCallback)
class ConstructionCallbackAdmin(ReadOnlyAdmin):
    list_display = ("project", "period", "due_on", "assigned_to", "satisfaction", "completed_at")


for model in (
    StageHistory,
    Acceptance,
    DesignPlan,
    DesignPlanRevision,
    DailyLog,
    Inspection,
    ChangeOrderLine,
    ChangeOrderEvent,
    MaterialReport,
):
    admin.site.register(model, ReadOnlyAdmin)
