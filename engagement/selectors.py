"""Reads shared by the engagement pages, API and the customer-page panel."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.extensions import TimelineEntry
from crm.models import Tenant
from engagement.models import Consent, ConsentChannel, ConsentEvent


def consent_overview(*, tenant: Tenant, customer_id: int) -> list[dict]:
    """One entry per channel: the current consent row, or None (never opted in)."""
    rows = {row.channel: row for row in Consent.objects.filter(customer_id=customer_id)}
    return [
        {"channel": value, "label": label, "consent": rows.get(value)}
        for value, label in ConsentChannel.choices
    ]


def consent_history(*, tenant: Tenant, customer_id: int) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(customer_id=customer_id).order_by("-occurred_at", "-id")


def lead_score_for_customer(*, tenant: Tenant, customer_id: int):
    return None


def push_timeline(*, tenant: Tenant, customer_id: int) -> list[TimelineEntry]:
    return []
