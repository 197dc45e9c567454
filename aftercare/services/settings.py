"""Per-tenant aftercare settings."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from aftercare.models import (
    AftercareSettings,
    TicketCategory,
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
) -> AftercareSettings:
    """Reminder offsets (days before due), escalation delay and warranty years per category."""
    errors = {}
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
    config.save()
    return config
