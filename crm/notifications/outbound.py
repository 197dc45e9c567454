"""Sending what the notification services decided: the claim / lease / retry machinery shared by
staff e-mail deliveries, group-robot posts, SMS and customer e-mails (called by the Celery tasks).

The decisions themselves (``notify``, ``sms_send``, ``email_send``) live in
:mod:`crm.notifications.services`, which re-exports the attempt functions for existing callers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from crm.models import Tenant
from crm.notifications import senders
from crm.notifications.models import (
    Channel,
    Delivery,
    NotificationSettings,
    OutboundEmail,
    OutboundMessage,
    OutboundStatus,
    SmsMessage,
)
from crm.notifications.sms import accepts_idempotency_key, backend_path, get_sms_backend
from crm.tenancy import current_tenant, tenant_context

_Row = TypeVar("_Row", bound=OutboundMessage)

logger = logging.getLogger("crm.notifications")

# A retry queued with ``countdown`` may wake a hair before ``next_attempt_at`` (clock rounding).
CLOCK_LEEWAY = timedelta(seconds=1)
# Beat re-queues only rows overdue by this much, so it doesn't race the on_commit/countdown task.
REQUEUE_GRACE = timedelta(seconds=60)
DEDUPE_KEY_MAX_LENGTH = 200


def max_attempts() -> int:
    return int(getattr(settings, "CRM_NOTIFY_MAX_ATTEMPTS", 5))


def retry_delay_seconds(attempts: int) -> float:
    """Exponential back-off after the ``attempts``-th failure: base, 2×base, 4×base … capped."""
    base = float(getattr(settings, "CRM_NOTIFY_RETRY_BASE_SECONDS", 30))
    return min(base * 2 ** (attempts - 1), 600.0)


def normalize_dedupe_key(key: str) -> str:
    """Keys longer than the column keep a readable prefix plus a hash of the whole key."""
    if len(key) <= DEDUPE_KEY_MAX_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: DEDUPE_KEY_MAX_LENGTH - 65]}#{digest}"


def in_tenant(tenant: Tenant) -> AbstractContextManager:
    """Enter ``tenant`` unless it is already active; refuse to write into another tenant."""
    active = current_tenant()
    if active is None:
        return tenant_context(tenant)
    if active.pk != tenant.pk:
        raise ValueError(f"tenant {tenant.pk} is not the active tenant {active.pk}")
    return nullcontext()


def enqueue(task_name: str, tenant_id: int, countdown: float | None = None, **ids: int | list[int]) -> None:
    from crm.notifications import tasks  # tasks import services

    getattr(tasks, task_name).apply_async(kwargs={"tenant_id": tenant_id, **ids}, countdown=countdown)


def enqueue_after_commit(task_name: str, tenant_id: int, **ids: int) -> None:
    """robust: a broker hiccup is logged, not raised into the caller; the beat re-queues the row."""
    transaction.on_commit(partial(enqueue, task_name, tenant_id, **ids), robust=True)


# --- sending (called by the Celery tasks) ------------------------------------------------------
#
# Three steps, each its own short transaction: (1) claim a due row and record it ``sending`` (with
# a lease in ``next_attempt_at``) and commit; (2) call the provider outside any transaction, with a
# stable id it can de-duplicate on; (3) record ``sent`` / retry / ``failed``. A worker killed in (2)
# leaves ``sending`` with an expired lease: the row is claimed and sent again (at-least-once). The
# database never says "sent" for a call that wasn't made.


def sending_lease() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "CRM_NOTIFY_SENDING_LEASE_SECONDS", 120)))


def _claim(queryset: models.QuerySet[_Row], pk: int) -> _Row | None:
    """Lock the row if it is due (pending, or sending with an expired lease); else None."""
    return (
        queryset.select_for_update(skip_locked=True, of=("self",))
        .filter(
            pk=pk,
            status__in=[OutboundStatus.PENDING, OutboundStatus.SENDING],
            next_attempt_at__lte=timezone.now() + CLOCK_LEEWAY,
        )
        .first()
    )


def _start(row: OutboundMessage) -> None:
    row.attempts += 1
    row.last_attempt_at = timezone.now()
    row.status = OutboundStatus.SENDING
    row.next_attempt_at = row.last_attempt_at + sending_lease()
    row.save(update_fields=["attempts", "last_attempt_at", "status", "next_attempt_at"])


def _finish(
    model: type[OutboundMessage],
    tenant: Tenant,
    claimed: OutboundMessage,
    error: Exception | None,
    retry: Callable[..., object],
) -> str | None:
    """Record the outcome if the row is still ours (same attempt, still ``sending``)."""
    with in_tenant(tenant), transaction.atomic():
        row = (
            model.objects.select_for_update(of=("self",))
            .filter(tenant=tenant, pk=claimed.pk, status=OutboundStatus.SENDING, attempts=claimed.attempts)
            .first()
        )
        if row is None:
            return None
        now = timezone.now()
        if error is not None:
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            if isinstance(error, senders.PermanentSendError) or row.attempts >= max_attempts():
                row.status = OutboundStatus.FAILED
                row.next_attempt_at = None
                logger.warning("%s %s failed for good: %s", type(row).__name__, row.pk, row.last_error)
            else:
                delay = retry_delay_seconds(row.attempts)
                row.status = OutboundStatus.PENDING
                row.next_attempt_at = now + timedelta(seconds=delay)
                transaction.on_commit(partial(retry, delay), robust=True)
        else:
            row.status = OutboundStatus.SENT
            row.sent_at = now
            row.next_attempt_at = None
            row.last_error = ""
            for field in ("provider_message_id", "backend"):
                if hasattr(claimed, field):
                    setattr(row, field, getattr(claimed, field))
        row.save()
        return row.status


def _call(send: Callable[[], object]) -> Exception | None:
    try:
        send()
    except Exception as error:  # noqa: BLE001 - any failure is recorded and retried
        return error
    return None


def idempotency_key(row: OutboundMessage) -> str:
    """Stable for the row across retries and crashes: what the provider de-duplicates on."""
    return f"crm-{type(row).__name__.lower()}-{row.tenant_id}-{row.pk}"


def delivery_attempt(*, tenant: Tenant, delivery_id: int) -> str | None:
    """Send one delivery if it is still due; returns its new status (None if not claimed)."""
    with in_tenant(tenant), transaction.atomic():
        delivery: Delivery | None = _claim(
            Delivery.objects.filter(tenant=tenant).select_related("notification"), delivery_id
        )
        if delivery is None:
            return None
        _start(delivery)
        robot: NotificationSettings | None = None
        if delivery.channel != Channel.EMAIL:
            robot = NotificationSettings.objects.filter(tenant=tenant).first() or NotificationSettings()

    def send() -> None:
        if delivery.channel == Channel.EMAIL:
            senders.send_email(
                notification=delivery.notification,
                address=delivery.target,
                tenant_name=tenant.name,
                message_id=idempotency_key(delivery),
            )
        else:
            assert robot is not None  # loaded above for every robot channel
            senders.post_to_robot(robot=robot, notification=delivery.notification)

    retry = partial(_retry, "deliver", tenant.pk, "delivery_id", delivery.pk)
    return _finish(Delivery, tenant, delivery, _call(send), retry)


def sms_attempt(*, tenant: Tenant, sms_id: int) -> str | None:
    """Send one SMS through the configured backend if it is still due."""
    with in_tenant(tenant), transaction.atomic():
        sms: SmsMessage | None = _claim(SmsMessage.objects.filter(tenant=tenant), sms_id)
        if sms is None:
            return None
        _start(sms)

    def send() -> None:
        backend = get_sms_backend()
        extra = {"idempotency_key": idempotency_key(sms)} if accepts_idempotency_key(backend) else {}
        sms.provider_message_id = str(backend.send(phone=sms.phone, message=sms.message, **extra))[:100]
        sms.backend = backend_path()

    retry = partial(_retry, "send_sms", tenant.pk, "sms_id", sms.pk)
    return _finish(SmsMessage, tenant, sms, _call(send), retry)


def email_attempt(*, tenant: Tenant, email_id: int) -> str | None:
    """Send one customer e-mail through Django's mail backend if it is still due."""
    with in_tenant(tenant), transaction.atomic():
        email: OutboundEmail | None = _claim(OutboundEmail.objects.filter(tenant=tenant), email_id)
        if email is None:
            return None
        _start(email)

    def send() -> None:
        senders.send_outbound_email(email=email, message_id=idempotency_key(email))

    retry = partial(_retry, "send_email", tenant.pk, "email_id", email.pk)
    return _finish(OutboundEmail, tenant, email, _call(send), retry)


def _retry(task_name: str, tenant_id: int, id_name: str, pk: int, delay: float) -> None:
    enqueue(task_name, tenant_id, countdown=delay, **{id_name: pk})


def outbound_requeue_due(*, tenant: Tenant, limit: int = 500) -> int:
    """Re-queue rows overdue by more than a grace period: pending (lost on_commit) and sending
    whose lease expired (the worker died during the provider call)."""
    cutoff = timezone.now() - REQUEUE_GRACE
    count = 0
    with in_tenant(tenant):
        for model, task_name, id_name in (
            (Delivery, "deliver", "delivery_id"),
            (SmsMessage, "send_sms", "sms_id"),
            (OutboundEmail, "send_email", "email_id"),
        ):
            due = model.objects.filter(
                tenant=tenant,
                status__in=[OutboundStatus.PENDING, OutboundStatus.SENDING],
                next_attempt_at__lte=cutoff,
            )
            for pk in due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]:
                enqueue_after_commit(task_name, tenant.pk, **{id_name: pk})
                count += 1
    return count
