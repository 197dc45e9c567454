"""Probe factories for the outbox (crm.events) and integrations models."""

from __future__ import annotations

from crm.events import EventType, publish
from crm.events.models import Event
from crm.models import Tenant
from integrations.models import WebhookEndpoint
from integrations.services import webhook_endpoint_create
from tests.factories import probe_factory


@probe_factory(Event)
def _event(tenant: Tenant) -> Event:
    return publish(EventType.CUSTOMER_CREATED, tenant=tenant, customer_id=1)


@probe_factory(WebhookEndpoint)
def _webhook_endpoint(tenant: Tenant) -> WebhookEndpoint:
    endpoint, _secret = webhook_endpoint_create(
        tenant=tenant, url="https://hooks.example.com/crm", event_types=[EventType.CUSTOMER_CREATED]
    )
    return endpoint
