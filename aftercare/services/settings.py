"""Per-tenant aftercare settings."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from aftercare.models import (
    DEFAULT_SLA_HOURS,
    AftercareSettings,
    TicketCategory,
    TicketPriority,
)
from crm.models import Tenant


def aftercare_settings_get(*, tenant: Tenant) -> AftercareSettings:
    """The tenant's settings row, created with defaults on first use (race-safe)."""
    found = AftercareSettings.objects.filter().first()
    if found is not None:
        return found
    AftercareSettings.objects.bulk_create([AftercareSettings(tenant=tenant)], ignore_conflicts=True)
    return AftercareSettings.objects.get()


@transaction.atomic
def aftercare_settings_update(
    *,
    tenant: Tenant,
    reminder_offsets_days: list[int],
    escalation_days_overdue: int,
    warranty_years: dict[str, int],
    sla_hours: dict[str, dict[str, int]] | None = None,
    survey_link_days: int | None = None,
) -> AftercareSettings:
    """Reminder offsets (days before due), escalation delay, warranty years per category, ticket
    time limits per priority (hours to first response and to resolution) and how long a survey
    link stays valid. ``None`` keeps the stored value (older callers do not know the last two)."""
    errors = {}
    if sla_hours is not None:
        sla_error = _sla_hours_error(sla_hours)
        if sla_error:
            errors["sla_hours"] = sla_error
    if survey_link_days is not None and not 1 <= survey_link_days <= 90:
        errors["survey_link_days"] = _("问卷链接有效天数必须在 1 到 90 之间。")
    if not reminder_offsets_days or any(not 1 <= day <= 365 for day in reminder_offsets_days):
        errors["reminder_offsets_days"] = _("提醒天数必须是 1 到 365 之间的整数，至少一个。")
    if not 1 <= escalation_days_overdue <= 365:
        errors["escalation_days_overdue"] = _("升级天数必须在 1 到 365 之间。")
    if any(key != "general" and key not in TicketCategory.values for key in warranty_years) or any(
        not 0 <= int(years) <= 30 for years in warranty_years.values()
    ):
        errors["warranty_years"] = _("保修年限必须是 0 到 30 年。")
    if errors:
        raise ValidationError(errors)
    config = aftercare_settings_get(tenant=tenant)
    config.reminder_offsets_days = sorted(set(reminder_offsets_days), reverse=True)
    config.escalation_days_overdue = escalation_days_overdue
    config.warranty_years = {key: int(years) for key, years in warranty_years.items()}
    if sla_hours is not None:
        config.sla_hours = {
            priority: {"first_response": int(hours["first_response"]), "resolution": int(hours["resolution"])}
            for priority, hours in {**DEFAULT_SLA_HOURS, **(config.sla_hours or {}), **sla_hours}.items()
        }
    if survey_link_days is not None:
        config.survey_link_days = survey_link_days
    config.save()
    return config


def _sla_hours_error(sla_hours: dict[str, dict[str, int]]) -> str:
    """Every priority known, hours 1–8760 (a year), first response no later than resolution."""
    for priority, hours in sla_hours.items():
        if priority not in TicketPriority.values or not isinstance(hours, dict):
            return _("未知的工单优先级。")
        try:
            first, done = int(hours["first_response"]), int(hours["resolution"])
        except (KeyError, TypeError, ValueError):
            return _("每个优先级都需要首次响应和解决时限（小时）。")
        if not (1 <= first <= 8760 and 1 <= done <= 8760):
            return _("工单时限必须在 1 到 8760 小时之间。")
        if first > done:
            return _("首次响应时限不能晚于解决时限。")
    return ""
