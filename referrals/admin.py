"""Django admin: tenant-scoped; the ledger is read-only here too (the database refuses edits anyway)."""

from __future__ import annotations

from django.contrib import admin

from crm.admin import TenantScopedAdmin
from referrals.models import LedgerEntry, Referral, ReferralAccount, ReferralSettings, VipEvent


@admin.register(ReferralSettings)
class ReferralSettingsAdmin(TenantScopedAdmin):
    list_display = (
        "rule_kind",
        "fixed_amount_fen",
        "percentage_bp",
        "cap_fen",
        "vip_threshold",
        "updated_at",
    )


@admin.register(Referral)
class ReferralAdmin(TenantScopedAdmin):
    list_display = ("referrer", "referred", "status", "source", "created_at")
    list_filter = ("status", "source")
    raw_id_fields = ("referrer", "referred", "signed_project")

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # status follows contracts and services, not hand edits

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(TenantScopedAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReferralAccount)
class ReferralAccountAdmin(ReadOnlyAdmin):
    list_display = ("customer", "code", "balance_fen", "shortfall_fen", "credited_referrals", "is_vip")
    search_fields = ("code",)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account",
        "kind",
        "amount_fen",
        "balance_after_fen",
        "idempotency_key",
        "created_at",
    )
    list_filter = ("kind",)


@admin.register(VipEvent)
class VipEventAdmin(ReadOnlyAdmin):
    list_display = ("account", "kind", "credited_referrals", "reason", "decided_by", "created_at")
