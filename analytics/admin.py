from django.contrib import admin

from analytics.models import ChannelSpend, SalesTarget
from crm.admin import TenantScopedAdmin


@admin.register(SalesTarget)
class SalesTargetAdmin(TenantScopedAdmin):
    list_display = ["month", "user", "contract_value_fen", "signed_count", "new_customers"]


@admin.register(ChannelSpend)
class ChannelSpendAdmin(TenantScopedAdmin):
    list_display = ["month", "channel", "amount_fen"]
