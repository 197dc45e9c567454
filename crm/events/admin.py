from django.contrib import admin

from crm.admin import TenantScopedAdmin
from crm.events.models import Event, EventDelivery


@admin.register(Event)
class EventAdmin(TenantScopedAdmin):
    list_display = ("id", "type", "aggregate_type", "aggregate_id", "created_at")
    list_filter = ("type",)
    readonly_fields = ("event_id", "type", "aggregate_type", "aggregate_id", "payload", "created_at")


@admin.register(EventDelivery)
class EventDeliveryAdmin(TenantScopedAdmin):
    list_display = ("id", "event", "subscriber", "status", "attempts", "next_attempt_at", "response_code")
    list_filter = ("status",)
    readonly_fields = ("event", "subscriber", "attempts", "delivered_at", "last_error", "response_code")
