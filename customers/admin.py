"""Django admin for the customers module (tenant-scoped)."""

from django.contrib import admin

from crm.admin import TenantScopedAdmin
from customers.models import (
    Customer,
    CustomerAuditLog,
    CustomerSettings,
    FollowUp,
    Lead,
    LeadSlaBreach,
    PoolClaim,
    Segment,
)


@admin.register(Customer)
class CustomerAdmin(TenantScopedAdmin):
    list_display = ("name", "phone", "source_channel", "lifecycle", "budget_tier", "owner", "created_at")
    list_filter = ("lifecycle", "budget_tier", "source_channel", "in_pool")
    search_fields = ("name", "phone", "email", "community")


@admin.register(Lead)
class LeadAdmin(TenantScopedAdmin):
    list_display = (
        "customer",
        "source_channel",
        "received_at",
        "first_response_due_at",
        "status",
        "assignee",
    )
    list_filter = ("status", "source_channel", "sla_breached")
    raw_id_fields = ("customer",)


@admin.register(FollowUp)
class FollowUpAdmin(TenantScopedAdmin):
    list_display = ("customer", "kind", "occurred_at", "author", "next_follow_up_at")
    raw_id_fields = ("customer",)


@admin.register(Segment)
class SegmentAdmin(TenantScopedAdmin):
    list_display = ("name", "created_by", "created_at")


@admin.register(CustomerSettings)
class CustomerSettingsAdmin(TenantScopedAdmin):
    list_display = (
        "__str__",
        "business_hours_start",
        "business_hours_end",
        "pool_after_minutes",
        "auto_assign",
    )


class ReadOnlyAdmin(TenantScopedAdmin):
    """Dispatch rows and the audit log are written by the system only."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CustomerAuditLog)
class CustomerAuditLogAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "actor", "action", "customer")
    list_filter = ("action",)


@admin.register(LeadSlaBreach)
class LeadSlaBreachAdmin(ReadOnlyAdmin):
    list_display = ("lead", "detected_at", "assignee", "reassigned_to", "notified")


@admin.register(PoolClaim)
class PoolClaimAdmin(ReadOnlyAdmin):
    list_display = ("customer", "claimed_by", "claimed_at")
