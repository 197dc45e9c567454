"""The dispatcher: hands each outbox event to each subscriber, once per (event, subscriber).

- Rows are claimed with ``SELECT … FOR UPDATE SKIP LOCKED``: two workers split them.
- An in-process handler runs in a savepoint of the transaction that stamps the delivery
  ``delivered``: its effect and the stamp commit together (exactly once in the database).
- An external send (webhook) is recorded ``sending`` and committed *before* the call, with a lease
  in ``next_attempt_at``; the outcome is recorded after. A worker that dies mid-call leaves a
  ``sending`` row whose lease expires, and it is sent again: at-least-once, de-duplicated by the
  receiver on the event id.
- A failure is retried with exponential back-off; after ``CRM_OUTBOX_MAX_ATTEMPTS`` the row is a
  dead letter (``dead``), shown to managers and replayable (:func:`deliveries_retry`).
- Beat (:func:`tenants_with_overdue_deliveries` → ``outbox.dispatch``) re-queues anything due for
  longer than a grace period: a lost broker message or a killed worker delays, never loses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone

from crm.events import registry
from crm.events.models import DeliveryStatus, EventDelivery
from crm.models import Tenant
from crm.tenancy import current_tenant, platform_scope, tenant_context

logger = logging.getLogger("crm.events")

DUE = [DeliveryStatus.PENDING, DeliveryStatus.SENDING]
CLOCK_LEEWAY = timedelta(seconds=1)
# Retries longer than this wait for the beat sweeper instead of a countdown task in Redis
# (far-future ETA tasks are redelivered after the visibility timeout: celery #2599).
MAX_COUNTDOWN_SECONDS = 600.0
_FIELDS = [
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "delivered_at",
    "last_error",
    "response_code",
    "duration_ms",
]


def max_attempts() -> int:
    return int(getattr(settings, "CRM_OUTBOX_MAX_ATTEMPTS", 8))


def retry_delay_seconds(attempts: int) -> float:
    """After the ``attempts``-th failure: base, 2×base, 4×base … capped at an hour."""
    base = float(getattr(settings, "CRM_OUTBOX_RETRY_BASE_SECONDS", 30))
    return min(base * 2 ** (attempts - 1), 3600.0)


def sending_lease() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "CRM_OUTBOX_SENDING_LEASE_SECONDS", 120)))


def sweep_grace() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "CRM_OUTBOX_SWEEP_GRACE_SECONDS", 60)))


def in_tenant(tenant: Tenant) -> AbstractContextManager:
    """Enter ``tenant`` unless it is already active; refuse to write into another tenant."""
    active = current_tenant()
    if active is None:
        return tenant_context(tenant)
    if active.pk != tenant.pk:
        raise ValueError(f"tenant {tenant.pk} is not the active tenant {active.pk}")
    return nullcontext()


def current_transaction_id():
    """``txid_current()`` on PostgreSQL (evaluated in the INSERT), None elsewhere."""
    if connection.vendor != "postgresql":
        return None
    return RawSQL("txid_current()", [])


def enqueue(tenant_id: int, event_id: int | None = None, countdown: float | None = None) -> None:
    from crm.events import tasks

    tasks.dispatch_task.apply_async(
        kwargs={"tenant_id": tenant_id, "event_id": event_id}, countdown=countdown
    )


def after_commit(tenant: Tenant, event_id: int, has_internal: bool, has_external: bool) -> None:
    """Right after the publishing transaction commits.

    In-process handlers run here by default (``CRM_OUTBOX_INLINE_HANDLERS``: the latency they
    always had), external sends always go to a Celery worker. Whatever this leaves — the process
    dies, the broker is down — is still a pending row the sweeper finds.
    """
    queue = has_external
    if has_internal and getattr(settings, "CRM_OUTBOX_INLINE_HANDLERS", True):
        try:
            deliveries_dispatch(tenant=tenant, event_id=event_id, internal_only=True)
        except Exception:  # noqa: BLE001 - the rows stay pending; a worker takes over
            logger.exception("inline dispatch of event %s failed; queued for a worker", event_id)
            queue = True
    elif has_internal:
        queue = True
    if queue:
        enqueue(tenant.pk, event_id)


def _claim(*, event_id: int | None, internal_only: bool, limit: int) -> list[EventDelivery]:
    queryset = EventDelivery.objects.select_for_update(skip_locked=True, of=("self",)).filter(
        status__in=DUE, next_attempt_at__lte=timezone.now() + CLOCK_LEEWAY
    )
    if event_id is not None:
        queryset = queryset.filter(event_id=event_id)
    if internal_only:
        queryset = queryset.filter(subscriber__startswith=f"{registry.HANDLER_PREFIX}:")
    return list(queryset.select_related("event").order_by("next_attempt_at", "id")[:limit])


def _fail(delivery: EventDelivery, error: str, now, *, permanent: bool = False) -> float | None:
    """Record a failed attempt; returns the retry delay, or None once it is a dead letter."""
    delivery.last_error = error[:2000]
    if permanent or delivery.attempts >= max_attempts():
        delivery.status = DeliveryStatus.DEAD
        delivery.next_attempt_at = None
        logger.warning("outbox delivery %s is a dead letter: %s", delivery.pk, delivery.last_error)
        return None
    delay = retry_delay_seconds(delivery.attempts)
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = now + timedelta(seconds=delay)
    return delay


def _schedule_retry(tenant_id: int, delays: Iterable[float]) -> None:
    """One countdown task for the soonest retry (the sweeper covers anything later or lost)."""
    short = [delay for delay in delays if delay <= MAX_COUNTDOWN_SECONDS]
    if short:
        transaction.on_commit(partial(enqueue, tenant_id, None, min(short) + 0.5), robust=True)


def _dispatch_batch(
    *, tenant: Tenant, event_id: int | None, internal_only: bool, limit: int
) -> tuple[int, int]:
    """Returns (rows claimed, rows left for a later task because a transport's batch was full)."""
    external: dict[object, list[EventDelivery]] = {}
    deferred = 0
    with tenant_context(tenant):
        rows = _claim(event_id=event_id, internal_only=internal_only, limit=limit)
        if not rows:
            return 0, 0
        now = timezone.now()
        delays = []
        touched = []
        for delivery in rows:
            target = registry.resolve(delivery.subscriber, delivery.event.type)
            if target is not None and target[0] == "transport":
                # A transport's ``batch_size`` bounds what one claim sends (a slow receiver holds a
                # worker for at most batch × timeout); the rest stays pending for the next task.
                cap = getattr(target[1], "batch_size", None)
                if cap is not None and len(external.get(target[1], [])) >= cap:
                    deferred += 1
                    continue
            touched.append(delivery)
            delivery.attempts += 1
            delivery.last_attempt_at = now
            if target is None:
                _fail(delivery, f"no such subscriber: {delivery.subscriber}", now, permanent=True)
                continue
            kind, subscriber = target
            if kind == "transport":
                delivery.status = DeliveryStatus.SENDING
                delivery.next_attempt_at = now + sending_lease()
                external.setdefault(subscriber, []).append(delivery)
                continue
            try:
                with transaction.atomic():  # the handler's writes commit with "delivered", or not at all
                    subscriber(tenant=tenant, **delivery.event.payload)
            except Exception as error:  # noqa: BLE001 - recorded and retried
                logger.exception("handler %s failed on event %s", delivery.subscriber, delivery.event_id)
                delay = _fail(delivery, f"{type(error).__name__}: {error}", now)
                if delay is not None:
                    delays.append(delay)
            else:
                delivery.status = DeliveryStatus.DELIVERED
                delivery.delivered_at = timezone.now()
                delivery.next_attempt_at = None
                delivery.last_error = ""
        EventDelivery.objects.bulk_update(touched, _FIELDS)
        _schedule_retry(tenant.pk, delays)
    for transport, deliveries in external.items():
        _send_external(tenant=tenant, transport=transport, deliveries=deliveries)
    return len(rows), deferred


def _send_external(*, tenant: Tenant, transport, deliveries: list[EventDelivery]) -> None:
    """The call runs outside any transaction (``sending`` is committed); then record the outcome."""
    outcomes = transport.send(tenant=tenant, deliveries=deliveries)
    with tenant_context(tenant):
        # Only rows still in the state we left them in: a lease that expired meanwhile was taken over.
        current = {
            row.pk: row
            for row in EventDelivery.objects.select_for_update(of=("self",)).filter(
                pk__in=[delivery.pk for delivery in deliveries], status=DeliveryStatus.SENDING
            )
        }
        now = timezone.now()
        results, delays, changed = [], [], []
        for delivery in deliveries:
            row = current.get(delivery.pk)
            if row is None or row.attempts != delivery.attempts:
                continue
            row.event = delivery.event
            outcome = outcomes.get(delivery.pk) or registry.SendOutcome(ok=False, error="no outcome")
            row.response_code = outcome.response_code
            row.duration_ms = outcome.duration_ms
            if outcome.ok:
                row.status = DeliveryStatus.DELIVERED
                row.delivered_at = now
                row.next_attempt_at = None
                row.last_error = ""
            else:
                delay = _fail(row, outcome.error, now, permanent=outcome.permanent)
                if delay is not None:
                    delays.append(delay)
            changed.append(row)
            results.append((row, outcome))
        if changed:
            EventDelivery.objects.bulk_update(changed, _FIELDS)
            transport.after(tenant=tenant, results=results)
        _schedule_retry(tenant.pk, delays)


def deliveries_dispatch(
    *, tenant: Tenant, event_id: int | None = None, internal_only: bool = False, batch_size: int = 100
) -> int:
    """Deliver what is due for ``tenant`` (one event's rows, or all); returns how many were tried.

    Each batch is its own short transaction, so it must not run inside a caller's transaction.
    """
    total = 0
    while True:
        claimed, deferred = _dispatch_batch(
            tenant=tenant, event_id=event_id, internal_only=internal_only, limit=batch_size
        )
        total += claimed - deferred
        if deferred:
            # Yield the worker: the tenant's remaining external sends queue behind other tenants.
            transaction.on_commit(partial(enqueue, tenant.pk, event_id), robust=True)
            return total
        if claimed < batch_size:
            return total


def tenants_with_overdue_deliveries() -> list[int]:
    """Tenants that have deliveries due for longer than the grace period (lost message, dead worker)."""
    cutoff = timezone.now() - sweep_grace()
    with platform_scope("outbox sweeper: find tenants with overdue deliveries"):
        return sorted(
            set(
                EventDelivery.objects.filter(status__in=DUE, next_attempt_at__lte=cutoff)
                .filter(tenant__is_active=True)
                .values_list("tenant_id", flat=True)
                .distinct()
            )
        )


@transaction.atomic
def deliveries_retry(
    *, tenant: Tenant, delivery_ids: Iterable[int] | None = None, status: str | None = None
) -> int:
    """Replay: make the given (or all ``status``) deliveries due now with a fresh set of attempts."""
    with in_tenant(tenant):
        queryset = EventDelivery.objects.filter(tenant=tenant)
        if delivery_ids is not None:
            queryset = queryset.filter(pk__in=[int(pk) for pk in delivery_ids])
        if status is not None:
            queryset = queryset.filter(status=status)
        else:
            queryset = queryset.exclude(status=DeliveryStatus.SENDING)
        count = queryset.update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
        )
    if count:
        transaction.on_commit(partial(enqueue, tenant.pk), robust=True)
    return count
