"""Per-tenant customer settings, the intake key and the business-hours SLA clock."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

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


#: The longest a replaced intake key may keep working (hours).
INTAKE_KEY_MAX_GRACE_HOURS = 24 * 30


@transaction.atomic
def intake_key_rotate(*, tenant: Tenant, grace_hours: int = 0) -> str:
    """Issue a new intake key; the plaintext is returned once.

    The key it replaces keeps working for ``grace_hours`` (0: stops at once), so a manager can
    update the live web forms without losing inquiries: two keys are active during a rotation.
    A key still in its grace period when another rotation happens stops at once.
    """
    if not 0 <= grace_hours <= INTAKE_KEY_MAX_GRACE_HOURS:
        raise ValidationError(
            {
                "grace_hours": gettext("宽限期应在 0 到 %(max)s 小时之间。")
                % {"max": INTAKE_KEY_MAX_GRACE_HOURS}
            },
            code="invalid",
        )
    settings_row = customer_settings_for(tenant=tenant, lock=True)
    issued = issue_secret("ik")
    if settings_row.intake_key_hash and grace_hours:
        settings_row.previous_intake_key_hash = settings_row.intake_key_hash
        settings_row.previous_intake_key_prefix = settings_row.intake_key_prefix
        settings_row.previous_intake_key_expires_at = timezone.now() + datetime.timedelta(hours=grace_hours)
    else:
        settings_row.previous_intake_key_hash = ""
        settings_row.previous_intake_key_prefix = ""
        settings_row.previous_intake_key_expires_at = None
    settings_row.intake_key_hash = issued.digest
    settings_row.intake_key_prefix = issued.prefix
    settings_row.save(
        update_fields=[
            "intake_key_hash",
            "intake_key_prefix",
            "previous_intake_key_hash",
            "previous_intake_key_prefix",
            "previous_intake_key_expires_at",
        ]
    )
    return issued.plaintext


@transaction.atomic
def intake_key_end_grace(*, tenant: Tenant) -> None:
    """Stop the replaced key now (e.g. every form is switched over, or it leaked)."""
    settings_row = customer_settings_for(tenant=tenant, lock=True)
    settings_row.previous_intake_key_hash = ""
    settings_row.previous_intake_key_prefix = ""
    settings_row.previous_intake_key_expires_at = None
    settings_row.save(
        update_fields=[
            "previous_intake_key_hash",
            "previous_intake_key_prefix",
            "previous_intake_key_expires_at",
        ]
    )


def previous_intake_key_active(
    settings_row: CustomerSettings, *, now: datetime.datetime | None = None
) -> bool:
    expires = settings_row.previous_intake_key_expires_at
    return (
        bool(settings_row.previous_intake_key_hash)
        and expires is not None
        and expires > (now or timezone.now())
    )


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


@transaction.atomic
def tenant_lead_sla_update(*, tenant: Tenant, minutes: int) -> None:
    """The first-response SLA of new leads (minutes of business time)."""
    if not 1 <= minutes <= 60 * 24 * 30:
        raise ValidationError(
            {"lead_response_sla_minutes": gettext("时限应在 1 到 43200 分钟之间。")}, code="invalid"
        )
    if tenant.lead_response_sla_minutes != minutes:
        tenant.lead_response_sla_minutes = minutes
        tenant.save(update_fields=["lead_response_sla_minutes"])
