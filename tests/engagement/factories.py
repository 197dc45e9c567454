"""Engagement factories (also registered for the cross-tenant probe)."""

from __future__ import annotations

from django.utils import timezone

from engagement.models import Consent
from tests.customers.factories import CustomerFactory
from tests.factories import probe_factory


@probe_factory(Consent)
def _consent(tenant) -> Consent:
    return Consent.objects.create(
        tenant=tenant,
        customer=CustomerFactory(tenant=tenant),
        channel="sms",
        state="granted",
        source="staff",
        version="2025-01",
        reason="probe",
        changed_at=timezone.now(),
    )
