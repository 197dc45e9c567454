"""Per-tenant customer settings, the intake key and the business-hours SLA clock."""

from __future__ import annotations

import datetime

from django.db import transaction

from crm.hashed_secrets import issue_secret
from crm.models import Tenant
from customers.models import (
    CustomerSettings,
)


def customer_settings_for(*, tenant: Tenant, lock: bool = False) -> CustomerSettings:
    """The tenant's settings row, created with defaults the first time it is asked for."""
    settings_row, _ = CustomerSettings.objects.get_or_create(tenant=tenant)
    if lock:
        settings_row = CustomerSettings.objects.select_for_update().get(pk=settings_row.pk)
    return settings_row


@transaction.atomic
def intake_key_rotate(*, tenant: Tenant) -> str:
    """Issue a new intake key (the old one stops working). The plaintext is returned once."""
    settings_row = customer_settings_for(tenant=tenant, lock=True)
    issued = issue_secret("ik")
    settings_row.intake_key_hash = issued.digest
    settings_row.intake_key_prefix = issued.prefix
    settings_row.save(update_fields=["intake_key_hash", "intake_key_prefix"])
    return issued.plaintext


def _opening(tz: datetime.tzinfo, day: datetime.date, settings_row: CustomerSettings) -> datetime.datetime:
    return datetime.datetime.combine(day, settings_row.business_hours_start, tzinfo=tz)


def _closing(tz: datetime.tzinfo, day: datetime.date, settings_row: CustomerSettings) -> datetime.datetime:
    return datetime.datetime.combine(day, settings_row.business_hours_end, tzinfo=tz)


def _always_open(settings_row: CustomerSettings) -> bool:
    return settings_row.business_hours_start == settings_row.business_hours_end and len(
        settings_row.business_days or []
    ) in (0, 7)


def sla_clock_start(
    *, tenant: Tenant, settings_row: CustomerSettings, received_at: datetime.datetime
) -> tuple[datetime.datetime, bool]:
    """When the SLA clock starts: at once inside business hours, else at the next opening."""
    if _always_open(settings_row):
        return received_at, False
    tz = tenant.zoneinfo
    local = received_at.astimezone(tz)
    days = set(settings_row.business_days or range(7))
    for offset in range(0, 15):
        day = local.date() + datetime.timedelta(days=offset)
        if day.weekday() not in days:
            continue
        opening, closing = _opening(tz, day, settings_row), _closing(tz, day, settings_row)
        if local < opening:
            return opening, True
        if local < closing:
            return received_at, offset != 0
    return received_at, False  # misconfigured (no business day): never block the clock


def add_business_minutes(
    *, tenant: Tenant, settings_row: CustomerSettings, start: datetime.datetime, minutes: int
) -> datetime.datetime:
    """``start`` (inside business hours) plus ``minutes`` counted only while the shop is open."""
    if _always_open(settings_row):
        return start + datetime.timedelta(minutes=minutes)
    tz = tenant.zoneinfo
    remaining = datetime.timedelta(minutes=minutes)
    current = start.astimezone(tz)
    days = set(settings_row.business_days or range(7))
    for _ in range(400):
        closing = _closing(tz, current.date(), settings_row)
        if current.date().weekday() in days and current < closing:
            current = max(current, _opening(tz, current.date(), settings_row))
            if current + remaining <= closing:
                return current + remaining
            remaining -= closing - current
        next_day = current.date() + datetime.timedelta(days=1)
        current = _opening(tz, next_day, settings_row)
    return start + datetime.timedelta(minutes=minutes)
