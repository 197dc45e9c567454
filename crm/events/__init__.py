"""Domain events through a transactional outbox: an app announces what happened, others react.

``publish()`` writes the event row (and one delivery row per subscriber) in the caller's
transaction: a rolled-back change announces nothing, a committed one is never lost. After
commit the dispatcher delivers it (:mod:`crm.events.dispatch`); a failed or interrupted delivery
is retried with back-off and swept by beat, and ends as a dead letter after N attempts (visible to
managers at ``/events/``, replayable with ``manage.py outbox_replay``). Handlers must be
idempotent. Every event type and its payload is declared in :mod:`crm.events.types`.
"""

from __future__ import annotations

import json
from functools import partial
from typing import TYPE_CHECKING

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from crm.events.registry import handler_key, handlers_for, subscribe, unsubscribe
from crm.events.types import EVENT_TYPES, EventPayloadError, EventType, validate_payload

if TYPE_CHECKING:
    from crm.events.models import Event
    from crm.models import Tenant

__all__ = [
    "publish",
    "publish_many",
    "subscribe",
    "unsubscribe",
    "handlers_for",
    "EventType",
    "EVENT_TYPES",
    "EventPayloadError",
]

MAX_PAYLOAD_BYTES = 16_384


def publish(event_type: str, *, tenant: Tenant, **payload) -> Event:
    """Record ``event_type`` for ``tenant`` in the current transaction; delivered after commit."""
    from crm.events import dispatch, registry
    from crm.events.models import Event, EventDelivery

    spec = validate_payload(event_type, payload)
    if len(json.dumps(payload, cls=DjangoJSONEncoder)) > MAX_PAYLOAD_BYTES:
        raise EventPayloadError(f"{event_type}: payload larger than {MAX_PAYLOAD_BYTES} bytes")
    with dispatch.in_tenant(tenant):
        event = Event.objects.create(
            tenant=tenant,
            type=event_type,
            aggregate_type=spec.aggregate,
            aggregate_id=payload.get(spec.aggregate_key),
            payload=payload,
            transaction_id=dispatch.current_transaction_id(),
        )
        internal = [handler_key(handler) for handler in handlers_for(event_type)]
        external = [
            key
            for transport in registry.transports()
            for key in transport.subscribers(tenant=tenant, event_type=event_type)
        ]
        if internal or external:
            EventDelivery.objects.bulk_create(
                [
                    EventDelivery(tenant=tenant, event=event, subscriber=key, created_at=event.created_at)
                    for key in dict.fromkeys(internal + external)
                ]
            )
            transaction.on_commit(
                partial(dispatch.after_commit, tenant, event.pk, bool(internal), bool(external)), robust=True
            )
    return event


def publish_many(event_type: str, *, tenant: Tenant, payloads: list[dict]) -> list[Event]:
    """:func:`publish` of one ``event_type`` for many aggregates, in a constant number of
    statements (the event rows, their delivery rows): scans announce a whole batch at once."""
    from crm.events import dispatch, registry
    from crm.events.models import Event, EventDelivery

    if not payloads:
        return []
    specs = []
    for payload in payloads:
        spec = validate_payload(event_type, payload)
        if len(json.dumps(payload, cls=DjangoJSONEncoder)) > MAX_PAYLOAD_BYTES:
            raise EventPayloadError(f"{event_type}: payload larger than {MAX_PAYLOAD_BYTES} bytes")
        specs.append(spec)
    with dispatch.in_tenant(tenant):
        events = Event.objects.bulk_create(
            [
                Event(
                    tenant=tenant,
                    type=event_type,
                    aggregate_type=spec.aggregate,
                    aggregate_id=payload.get(spec.aggregate_key),
                    payload=payload,
                    transaction_id=dispatch.current_transaction_id(),
                )
                for spec, payload in zip(specs, payloads, strict=True)
            ]
        )
        internal = [handler_key(handler) for handler in handlers_for(event_type)]
        external = [
            key
            for transport in registry.transports()
            for key in transport.subscribers(tenant=tenant, event_type=event_type)
        ]
        if internal or external:
            EventDelivery.objects.bulk_create(
                [
                    EventDelivery(tenant=tenant, event=event, subscriber=key, created_at=event.created_at)
                    for event in events
                    for key in dict.fromkeys(internal + external)
                ]
            )
            for event in events:
                transaction.on_commit(
                    partial(dispatch.after_commit, tenant, event.pk, bool(internal), bool(external)),
                    robust=True,
                )
    return events
