"""Aftercare in Django admin (tenant-scoped). Plan kinds and settings are edited here by tenant admins."""

from django.contrib import admin

from aftercare.models import (
    AftercareSettings,
    MaintenancePlan,
    PlanKind,
    ReminderDispatch,
    ServiceTicket,
    Survey,
    TicketEvent,
    TicketPhoto,
    TicketSlaAlert,
    Visit,
    VisitPhoto,
)
from crm.admin import TenantScopedAdmin


@admin.register(AftercareSettings)
class AftercareSettingsAdmin(TenantScopedAdmin):
    list_display = ("__str__", "reminder_offsets_days", "escalation_days_overdue", "warranty_years")


@admin.register(PlanKind)
class PlanKindAdmin(TenantScopedAdmin):
    list_display = ("name", "code", "months_after_handover", "creates_renovation_lead", "is_active")


@admin.register(MaintenancePlan)
class MaintenancePlanAdmin(TenantScopedAdmin):
    list_display = ("project", "kind", "due_on", "status", "assigned_to")
    list_filter = ("status",)
    raw_id_fields = ("project", "customer", "kind")


@admin.register(ReminderDispatch)
class ReminderDispatchAdmin(TenantScopedAdmin):
    list_display = ("plan", "offset_days", "kind", "decided_at", "sent_at")
    raw_id_fields = ("plan",)


@admin.register(Visit)
class VisitAdmin(TenantScopedAdmin):
    list_display = ("plan", "scheduled_at", "technician", "status", "satisfaction")
    raw_id_fields = ("plan", "project", "customer")


@admin.register(VisitPhoto)
class VisitPhotoAdmin(TenantScopedAdmin):
    raw_id_fields = ("visit",)


@admin.register(ServiceTicket)
class ServiceTicketAdmin(TenantScopedAdmin):
    list_display = ("__str__", "project", "priority", "status", "under_warranty", "resolution_due_at")
    list_filter = ("status", "priority", "category")
    raw_id_fields = ("project", "customer")


@admin.register(TicketPhoto)
class TicketPhotoAdmin(TenantScopedAdmin):
    raw_id_fields = ("ticket",)


@admin.register(TicketEvent)
class TicketEventAdmin(TenantScopedAdmin):
    list_display = ("ticket", "from_status", "to_status", "actor", "created_at")
    raw_id_fields = ("ticket",)


@admin.register(TicketSlaAlert)
class TicketSlaAlertAdmin(TenantScopedAdmin):
    list_display = ("ticket", "kind", "created_at")
    raw_id_fields = ("ticket",)


@admin.register(Survey)
class SurveyAdmin(TenantScopedAdmin):
    list_display = ("customer", "kind", "trigger", "score", "answered_at", "expires_at")
    list_filter = ("kind", "trigger")
    raw_id_fields = ("customer", "project", "visit", "ticket")
    exclude = ("tenant", "token")
