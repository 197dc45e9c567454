"""Probe factories for the outbox (crm.events) and integrations models."""

from __future__ import annotations

from crm.events import EventType, publish
from crm.events.models import Event
from crm.models import Tenant
from tests.factories import probe_factory


@probe_factory(Event)
def _event(tenant: Tenant) -> Event:
    return publish(EventType.CUSTOMER_CREATED, tenant=tenant, customer_id=1)
