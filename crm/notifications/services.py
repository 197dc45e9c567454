"""Notification writes: the ``notify`` / ``sms_send`` interface every module calls, and the senders.

Rules (see docs/ARCHITECTURE "Background jobs"):
- the decision to notify inserts rows guarded by unique constraints, so a repeated call (duplicated
  beat, retried task, two workers) creates nothing new;
- sending happens after commit in a Celery task that claims the row with
  ``select_for_update(skip_locked=True)`` and never sends a row already ``sent``;
- a failed send is recorded and retried with exponential back-off (short countdowns only; a beat
  job re-queues anything whose ``next_attempt_at`` has passed), then marked ``failed``.
"""

from __future__ import annotations

import hashlib
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm.models import Tenant, User
from crm.notifications import senders
from crm.notifications.badge import badge_forget
from crm.notifications.models import (
    Channel,
    Delivery,
    Notification,
    NotificationSettings,
    OutboundMessage,
    OutboundStatus,
    RobotKind,
    SmsMessage,
)
from crm.notifications.selectors import unread_count
from crm.notifications.sms import accepts_idempotency_key, backend_path, get_sms_backend
from crm.tenancy import current_tenant, tenant_context

_Row = TypeVar("_Row", bound=OutboundMessage)

__all__ = [
    "notify",
    "notify_many",
    "NotificationSpec",
    "sms_send",
    "unread_count",
    "notification_mark_read",
    "notification_settings_get",
    "notification_settings_update",
    "delivery_attempt",
    "sms_attempt",
    "outbound_requeue_due",
]

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


def _in_tenant(tenant: Tenant) -> AbstractContextManager:
    """Enter ``tenant`` unless it is already active; refuse to write into another tenant."""
    active = current_tenant()
    if active is None:
        return tenant_context(tenant)
    if active.pk != tenant.pk:
        raise ValueError(f"tenant {tenant.pk} is not the active tenant {active.pk}")
    return nullcontext()


def _enqueue(task_name: str, tenant_id: int, countdown: float | None = None, **ids: int | list[int]) -> None:
    from crm.notifications import tasks  # tasks import services

    getattr(tasks, task_name).apply_async(kwargs={"tenant_id": tenant_id, **ids}, countdown=countdown)


def _enqueue_after_commit(task_name: str, tenant_id: int, **ids: int) -> None:
    """robust: a broker hiccup is logged, not raised into the caller; the beat re-queues the row."""
    transaction.on_commit(partial(_enqueue, task_name, tenant_id, **ids), robust=True)


# --- in-app notifications --------------------------------------------------------------------


@transaction.atomic
def notify(
    *,
    tenant: Tenant,
    recipients: Iterable[User],
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    dedupe_key: str,
) -> int:
    """Notify staff users once per ``dedupe_key``; returns how many notifications were NEW.

    Each new notification gets an email delivery (if the user has an address) and the tenant's
    group robot gets one post per ``dedupe_key``. Inactive users are skipped; a user of another
    tenant is a programming error.
    """
    if not dedupe_key:
        raise ValueError("notify() needs a dedupe_key")
    dedupe_key = normalize_dedupe_key(dedupe_key)
    users = {user.pk: user for user in recipients}
    for user in users.values():
        if user.tenant_id != tenant.pk:
            raise ValueError(f"user {user.pk} does not belong to tenant {tenant.pk}")
    created_count = 0
    queued: list[int] = []
    with _in_tenant(tenant):
        # Explicit tenant filters: a caller inside platform_scope must still only touch this tenant.
        robot = NotificationSettings.objects.filter(tenant=tenant).first()
        robot_pending = robot is not None and robot.robot_active
        # A fixed order: two concurrent calls lock the unique index entries in the same order.
        for user in sorted((u for u in users.values() if u.is_active), key=lambda u: u.pk):
            notification, created = Notification.objects.get_or_create(
                tenant=tenant,
                recipient=user,
                dedupe_key=dedupe_key,
                defaults={"kind": kind, "title": title[:200], "body": body, "link": link},
            )
            if not created:
                continue
            created_count += 1
            if user.email:
                delivery = Delivery.objects.create(
                    tenant=tenant,
                    notification=notification,
                    channel=Channel.EMAIL,
                    dedupe_key=dedupe_key,
                    target=user.email,
                )
                queued.append(delivery.pk)
            if robot_pending:
                robot_pending = False
                delivery, robot_created = Delivery.objects.get_or_create(
                    tenant=tenant,
                    channel=Channel.WEBHOOK,
                    dedupe_key=dedupe_key,
                    defaults={"notification": notification, "target": robot.robot_kind},
                )
                if robot_created:
                    queued.append(delivery.pk)
        for delivery_id in queued:
            _enqueue_after_commit("deliver", tenant.pk, delivery_id=delivery_id)
    return created_count


@dataclass(frozen=True)
class NotificationSpec:
    """One ``notify()`` call's arguments, for :func:`notify_many`."""

    recipients: Sequence[User]
    kind: str
    title: str
    dedupe_key: str
    body: str = ""
    link: str = ""


# Deliveries queued per broker message by notify_many (one task claims them one by one).
DELIVER_BATCH = 100


@transaction.atomic
def notify_many(*, tenant: Tenant, notifications: Sequence[NotificationSpec]) -> dict[str, int]:
    """:func:`notify` for many dedupe keys at once, in a constant number of statements.

    Same rules — a (recipient, dedupe_key) pair is notified once (``INSERT … ON CONFLICT DO
    NOTHING``), an email delivery per NEW notification of a user with an address, the group robot
    once per dedupe_key — so scans can notify a whole batch without a round trip per row.
    Returns the number of NEW notifications per (normalized) dedupe_key.
    """
    rows: dict[tuple[int, str], tuple[User, NotificationSpec]] = {}
    new_per_key: dict[str, int] = {}
    for spec in notifications:
        if not spec.dedupe_key:
            raise ValueError("notify_many() needs a dedupe_key for every notification")
        key = normalize_dedupe_key(spec.dedupe_key)
        new_per_key.setdefault(key, 0)
        for user in spec.recipients:
            if user.tenant_id != tenant.pk:
                raise ValueError(f"user {user.pk} does not belong to tenant {tenant.pk}")
            if user.is_active:
                rows.setdefault((user.pk, key), (user, spec))
    if not rows:
        return new_per_key
    # The order of notify(): concurrent callers lock the unique index entries in the same order.
    ordered = sorted(rows.items(), key=lambda item: item[0])
    now = timezone.now()
    queued: list[int] = []
    with _in_tenant(tenant):
        robot = NotificationSettings.objects.filter(tenant=tenant).first()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {Notification._meta.db_table}
                    (tenant_id, recipient_id, kind, title, body, link, dedupe_key, created_at, updated_at)
                SELECT %s, u.recipient_id, u.kind, u.title, u.body, u.link, u.dedupe_key, %s, %s
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])
                    WITH ORDINALITY AS u(recipient_id, kind, title, body, link, dedupe_key, position)
                ORDER BY u.position
                ON CONFLICT (tenant_id, recipient_id, dedupe_key) DO NOTHING
                RETURNING id, recipient_id, dedupe_key
                """,
                [
                    tenant.pk,
                    now,
                    now,
                    [user_pk for (user_pk, _key), _row in ordered],
                    [spec.kind for _pair, (_user, spec) in ordered],
                    [spec.title[:200] for _pair, (_user, spec) in ordered],
                    [spec.body for _pair, (_user, spec) in ordered],
                    [spec.link for _pair, (_user, spec) in ordered],
                    [key for (_user_pk, key), _row in ordered],
                ],
            )
            created = sorted(cursor.fetchall())  # (id, recipient_id, dedupe_key) in id order
        badge_forget(recipient_id for _id, recipient_id, _key in created)
        emails = []
        first_of_key: dict[str, int] = {}
        for notification_id, recipient_id, key in created:
            new_per_key[key] += 1
            first_of_key.setdefault(key, notification_id)
            user = rows[(recipient_id, key)][0]
            if user.email:
                emails.append(
                    Delivery(
                        tenant=tenant,
                        notification_id=notification_id,
                        channel=Channel.EMAIL,
                        dedupe_key=key,
                        target=user.email,
                        created_at=now,
                        next_attempt_at=now,
                    )
                )
        if emails:
            queued.extend(delivery.pk for delivery in Delivery.objects.bulk_create(emails))
        if robot is not None and robot.robot_active and first_of_key:
            queued.extend(_robot_deliveries(tenant, robot, first_of_key, now))
        for start in range(0, len(queued), DELIVER_BATCH):
            batch = queued[start : start + DELIVER_BATCH]
            transaction.on_commit(
                partial(_enqueue, "deliver_many", tenant.pk, delivery_ids=batch), robust=True
            )
    return new_per_key


def _robot_deliveries(
    tenant: Tenant, robot: NotificationSettings, first_of_key: dict[str, int], now: datetime
) -> list[int]:
    """The group robot's one post per dedupe_key (skipped where one exists); returns new ids."""
    keys = sorted(first_of_key)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Delivery._meta.db_table}
                (tenant_id, notification_id, channel, dedupe_key, target, status, attempts,
                 next_attempt_at, last_error, created_at, updated_at)
            SELECT %s, u.notification_id, %s, u.dedupe_key, %s, %s, 0, %s, '', %s, %s
            FROM unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS u(notification_id, dedupe_key, position)
            ORDER BY u.position
            ON CONFLICT (tenant_id, dedupe_key) WHERE channel = 'webhook' DO NOTHING
            RETURNING id
            """,
            [
                tenant.pk,
                Channel.WEBHOOK.value,
                robot.robot_kind,
                OutboundStatus.PENDING.value,
                now,
                now,
                now,
                [first_of_key[key] for key in keys],
                keys,
            ],
        )
        return sorted(row[0] for row in cursor.fetchall())


@transaction.atomic
def notification_mark_read(
    *,
    tenant: Tenant,
    user: User,
    notification_ids: Iterable[int] | None = None,
    all: bool = False,  # noqa: A002 - the interface name other modules use
) -> int:
    """Mark ``user``'s own notifications read (the given ids, or ``all=True``); returns how many."""
    with _in_tenant(tenant):
        queryset = Notification.objects.filter(tenant=tenant, recipient=user, read_at__isnull=True)
        if not all:
            ids = [int(pk) for pk in notification_ids or []]
            if not ids:
                return 0
            queryset = queryset.filter(pk__in=ids)
        marked = queryset.update(read_at=timezone.now())
        if marked:
            badge_forget([user.pk])
        return marked


# --- tenant settings ---------------------------------------------------------------------------


@transaction.atomic
def notification_settings_get(*, tenant: Tenant) -> NotificationSettings:
    """The tenant's one settings row, created on first use."""
    with _in_tenant(tenant):
        robot, _ = NotificationSettings.objects.get_or_create(tenant=tenant)
        return robot


@transaction.atomic
def notification_settings_update(
    *,
    tenant: Tenant,
    robot_kind: str,
    robot_url: str,
    robot_enabled: bool,
    robot_secret: str | None = None,
) -> NotificationSettings:
    """Configure the group robot. ``robot_secret=None`` keeps the stored secret, ``""`` clears it."""
    robot_url = (robot_url or "").strip()
    errors: dict[str, str] = {}
    if robot_kind and robot_kind not in RobotKind.values:
        errors["robot_kind"] = gettext("未知的机器人类型。")
    if robot_enabled and not robot_kind:
        errors["robot_kind"] = gettext("启用推送前请选择机器人类型。")
    if robot_enabled and not robot_url:
        errors["robot_url"] = gettext("启用推送前请填写 Webhook 地址。")
    if robot_url:
        parsed = urllib.parse.urlsplit(robot_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            errors["robot_url"] = gettext("请输入有效的网址。")
        elif parsed.hostname not in senders.robot_allowed_hosts():
            allowed = gettext("、").join(senders.robot_allowed_hosts())
            errors["robot_url"] = gettext("只允许企业微信或钉钉的机器人地址（%(hosts)s）。") % {
                "hosts": allowed
            }
    if errors:
        raise ValidationError(errors)
    robot = notification_settings_get(tenant=tenant)
    with _in_tenant(tenant):
        robot.robot_kind = robot_kind
        robot.robot_url = robot_url
        robot.robot_enabled = robot_enabled
        if robot_secret is not None:
            robot.robot_secret = robot_secret.strip()
        robot.full_clean(exclude=["tenant"])
        robot.save()
    return robot


# --- SMS ---------------------------------------------------------------------------------------


@transaction.atomic
def sms_send(
    *, tenant: Tenant, phone: str, message: str, dedupe_key: str, secrets: Sequence[str] = ()
) -> SmsMessage:
    """Record an SMS once per ``dedupe_key`` and send it after commit; returns the (existing) row.

    ``secrets`` (e.g. a verification code) are masked in what staff can read (API, admin): a
    manager must not be able to read a customer's live code and confirm in their name.
    """
    phone = (phone or "").strip()
    errors = {}
    if not phone:
        errors["phone"] = gettext("手机号不能为空。")
    if not message:
        errors["message"] = gettext("短信内容不能为空。")
    if errors:
        raise ValidationError(errors)
    if not dedupe_key:
        raise ValueError("sms_send() needs a dedupe_key")
    dedupe_key = normalize_dedupe_key(dedupe_key)
    with _in_tenant(tenant):
        sms, created = SmsMessage.objects.get_or_create(
            tenant=tenant,
            dedupe_key=dedupe_key,
            defaults={
                "phone": phone,
                "message": message,
                "display_message": mask_secrets(message, secrets),
                "backend": backend_path(),
            },
        )
        if created:
            _enqueue_after_commit("send_sms", tenant.pk, sms_id=sms.pk)
    return sms


def mask_secrets(message: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "*" * len(secret))
    return message


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
    with _in_tenant(tenant), transaction.atomic():
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
    with _in_tenant(tenant), transaction.atomic():
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
    with _in_tenant(tenant), transaction.atomic():
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


def _retry(task_name: str, tenant_id: int, id_name: str, pk: int, delay: float) -> None:
    _enqueue(task_name, tenant_id, countdown=delay, **{id_name: pk})


def outbound_requeue_due(*, tenant: Tenant, limit: int = 500) -> int:
    """Re-queue rows overdue by more than a grace period: pending (lost on_commit) and sending
    whose lease expired (the worker died during the provider call)."""
    cutoff = timezone.now() - REQUEUE_GRACE
    count = 0
    with _in_tenant(tenant):
        for model, task_name, id_name in (
            (Delivery, "deliver", "delivery_id"),
            (SmsMessage, "send_sms", "sms_id"),
        ):
            due = model.objects.filter(
                tenant=tenant,
                status__in=[OutboundStatus.PENDING, OutboundStatus.SENDING],
                next_attempt_at__lte=cutoff,
            )
            for pk in due.order_by("next_attempt_at").values_list("pk", flat=True)[:limit]:
                _enqueue_after_commit(task_name, tenant.pk, **{id_name: pk})
                count += 1
    return count
