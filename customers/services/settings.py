"""Per-tenant customer settings, the intake key and the business-hours SLA clock."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm.hashed_secrets import issue_secret
from crm.models import Tenant
from crm.workdays.business import BusinessCalendar
from crm.workdays.selectors import business_calendar
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


def business_calendar_for(
    *, tenant: Tenant, around: datetime.datetime, settings_row: CustomerSettings | None = None
) -> BusinessCalendar:
    """The tenant's business hours (set on the customers settings page) with its holiday calendar.

    The one clock every business-hours deadline uses: lead SLA and pool deadline here, ticket SLAs
    (aftercare) and appointment reminders (sales).
    """
    row = settings_row or customer_settings_for(tenant=tenant)
    return business_calendar(
        tenant=tenant,
        opens=row.business_hours_start,
        closes=row.business_hours_end,
        weekdays=list(row.business_days or ()),
        around=around,
    )


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
