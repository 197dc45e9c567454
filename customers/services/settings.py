"""Per-tenant customer settings, the intake key and the business-hours SLA clock."""

from __future__ import annotations

import datetime

from django.db import transaction

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


@transaction.atomic
def intake_key_rotate(*, tenant: Tenant) -> str:
    """Issue a new intake key (the old one stops working). The plaintext is returned once."""
    settings_row = customer_settings_for(tenant=tenant, lock=True)
    issued = issue_secret("ik")
    settings_row.intake_key_hash = issued.digest
    settings_row.intake_key_prefix = issued.prefix
    settings_row.save(update_fields=["intake_key_hash", "intake_key_prefix"])
    return issued.plaintext


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
