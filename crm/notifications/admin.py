"""Django admin for notifications, scoped to the admin user's tenant."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from crm.admin import TenantScopedAdmin
from crm.notifications.models import (
    Delivery,
    Notification,
    NotificationSettings,
    OutboundEmail,
    SmsMessage,
)
from crm.notifications.sms import display_sms_text


@admin.register(NotificationSettings)
class NotificationSettingsAdmin(TenantScopedAdmin):
    list_display = ("robot_kind", "robot_enabled", "updated_at")


@admin.register(Notification)
class NotificationAdmin(TenantScopedAdmin):
    list_display = ("title", "recipient", "kind", "created_at", "read_at")
    list_filter = ("kind",)
    search_fields = ("title", "dedupe_key")
    list_select_related = ("recipient",)
    raw_id_fields = ("recipient",)


@admin.register(Delivery)
class DeliveryAdmin(TenantScopedAdmin):
    list_display = ("notification", "channel", "target", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("channel", "status")
    list_select_related = ("notification",)
    readonly_fields = ("notification", "attempts", "last_attempt_at", "sent_at", "last_error", "created_at")


@admin.register(SmsMessage)
class SmsMessageAdmin(TenantScopedAdmin):
    list_display = ("__str__", "status", "attempts", "backend", "created_at", "sent_at")
    list_filter = ("status",)
    readonly_fields = (
        "shown_message",
        "attempts",
        "last_attempt_at",
        "sent_at",
        "last_error",
        "provider_message_id",
    )
    exclude = ("message", "display_message")  # the raw text may hold a live verification code

    @admin.display(description=_("短信内容"))
    def shown_message(self, obj: SmsMessage) -> str:
        return display_sms_text(obj)


@admin.register(OutboundEmail)
class OutboundEmailAdmin(TenantScopedAdmin):
    list_display = ("__str__", "subject", "status", "attempts", "created_at", "sent_at")
    list_filter = ("status",)
    search_fields = ("subject", "dedupe_key")
    readonly_fields = ("attempts", "last_attempt_at", "sent_at", "last_error", "headers")
