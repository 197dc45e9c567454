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
from django.db import connection, transaction
from django.utils import timezone

from crm.bulk import json_rows
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


def publish_many(event_type: str, *, tenant: Tenant, payloads: list[dict]) -> list[int]:
    """:func:`publish` of one ``event_type`` for many aggregates in ONE statement (the event rows
    and their delivery rows, set-based): scans announce a whole batch at once. Returns the new
    events' ids in payload order.

    The rows are those :func:`publish` writes — a fresh ``event_id`` each, ``txid_current()`` as
    ``transaction_id`` (the feed's visibility rule), one pending delivery per (event, subscriber),
    ids in payload order — but from one JSON parameter (:mod:`crm.bulk`), not a model instance per row.
    """
    from crm.events import dispatch, registry
    from crm.events.models import DeliveryStatus, Event, EventDelivery

    if not payloads:
        return []
    if connection.vendor != "postgresql":  # the zero-setup demo (SQLite): one publish() each
        return [publish(event_type, tenant=tenant, **payload).pk for payload in payloads]
    rows = []
    for payload in payloads:
        spec = validate_payload(event_type, payload)
        if len(json.dumps(payload)) > MAX_PAYLOAD_BYTES:  # what JSONField stores, as publish() checks
            raise EventPayloadError(f"{event_type}: payload larger than {MAX_PAYLOAD_BYTES} bytes")
        rows.append({"aggregate_id": payload.get(spec.aggregate_key), "payload": payload})
    now = timezone.now()
    with dispatch.in_tenant(tenant):
        internal = [handler_key(handler) for handler in handlers_for(event_type)]
        external = [
            key
            for transport in registry.transports()
            for key in transport.subscribers(tenant=tenant, event_type=event_type)
        ]
        subscribers = list(dict.fromkeys(internal + external))
        with connection.cursor() as cursor:
            cursor.execute(
                _PUBLISH_MANY_SQL.format(event=Event._meta.db_table, delivery=EventDelivery._meta.db_table),
                {
                    "tenant": tenant.pk,
                    "type": event_type,
                    "aggregate_type": spec.aggregate,
                    "now": now,
                    "rows": json_rows(rows),
                    "subscribers": subscribers,
                    "pending": DeliveryStatus.PENDING.value,
                },
            )
            event_ids = [row[0] for row in cursor.fetchall()]
        if subscribers:
            for event_id in event_ids:
                transaction.on_commit(
                    partial(dispatch.after_commit, tenant, event_id, bool(internal), bool(external)),
                    robust=True,
                )
    return event_ids


# The event rows in payload order (ids ascend with it), then every (event, subscriber) delivery:
# a data-modifying CTE runs once whether or not the outer query reads it.
_PUBLISH_MANY_SQL = """
WITH event AS (
    INSERT INTO {event}
        (tenant_id, event_id, type, aggregate_type, aggregate_id, payload, created_at, transaction_id)
    SELECT %(tenant)s, gen_random_uuid(), %(type)s, %(aggregate_type)s, u.aggregate_id,
           u.payload, %(now)s, txid_current()
    FROM ROWS FROM (json_to_recordset(%(rows)s::json) AS (aggregate_id bigint, payload jsonb))
        WITH ORDINALITY AS u(aggregate_id, payload, position)
    ORDER BY u.position
    RETURNING id
), delivery AS (
    INSERT INTO {delivery}
        (tenant_id, event_id, subscriber, status, attempts, next_attempt_at, last_error, created_at)
    SELECT %(tenant)s, event.id, s.subscriber, %(pending)s, 0, %(now)s, '', %(now)s
    FROM event CROSS JOIN unnest(%(subscribers)s::text[]) WITH ORDINALITY AS s(subscriber, position)
    ORDER BY event.id, s.position
)
SELECT id FROM event ORDER BY id
"""
