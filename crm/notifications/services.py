"""Notification writes: the ``notify`` / ``sms_send`` / ``email_send`` interface every module calls.

Rules (see docs/ARCHITECTURE "Background jobs"):
- the decision to notify inserts rows guarded by unique constraints, so a repeated call (duplicated
  beat, retried task, two workers) creates nothing new;
- sending happens after commit in a Celery task that claims the row with
  ``select_for_update(skip_locked=True)`` and never sends a row already ``sent``
  (:mod:`crm.notifications.outbound`);
- a failed send is recorded and retried with exponential back-off (short countdowns only; a beat
  job re-queues anything whose ``next_attempt_at`` has passed), then marked ``failed``.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm.bulk import json_rows
from crm.models import Tenant, User
from crm.notifications import senders
from crm.notifications.badge import badge_forget
from crm.notifications.models import (
    Channel,
    Delivery,
    Notification,
    NotificationSettings,
    OutboundEmail,
    OutboundStatus,
    RobotKind,
    SmsMessage,
)
from crm.notifications.outbound import (
    delivery_attempt,
    email_attempt,
    enqueue,
    enqueue_after_commit,
    idempotency_key,
    in_tenant,
    normalize_dedupe_key,
    outbound_requeue_due,
    sms_attempt,
)
from crm.notifications.selectors import unread_count
from crm.notifications.sms import backend_path

__all__ = [
    "notify",
    "notify_many",
    "NotificationSpec",
    "sms_send",
    "email_send",
    "unread_count",
    "notification_mark_read",
    "notification_settings_get",
    "notification_settings_update",
    "normalize_dedupe_key",
    "idempotency_key",
    "delivery_attempt",
    "sms_attempt",
    "email_attempt",
    "outbound_requeue_due",
]

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
    with in_tenant(tenant):
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
            enqueue_after_commit("deliver", tenant.pk, delivery_id=delivery_id)
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
    ordered = sorted(rows)
    emails = {user.pk: user.email for user, _spec in rows.values() if user.email}
    now = timezone.now()
    with in_tenant(tenant):
        robot = NotificationSettings.objects.filter(tenant=tenant).first()
        with connection.cursor() as cursor:
            cursor.execute(
                _NOTIFY_MANY_SQL.format(
                    notification=Notification._meta.db_table, delivery=Delivery._meta.db_table
                ),
                {
                    "tenant": tenant.pk,
                    "now": now,
                    "rows": json_rows(
                        {
                            "recipient_id": user_pk,
                            "kind": spec.kind,
                            "title": spec.title[:200],
                            "body": spec.body,
                            "link": spec.link,
                            "dedupe_key": key,
                        }
                        for user_pk, key in ordered
                        for spec in (rows[(user_pk, key)][1],)
                    ),
                    "emails": json_rows({"user_id": pk, "target": email} for pk, email in emails.items()),
                    "email": Channel.EMAIL.value,
                    "pending": OutboundStatus.PENDING.value,
                },
            )
            result = cursor.fetchall()
        if any(note_id is not None for note_id, _key, _delivery in result):
            badge_forget(user_pk for user_pk, _key in ordered)  # a recipient without a new one: harmless
        queued = sorted(delivery_id for note_id, _key, delivery_id in result if note_id is None)
        first_of_key: dict[str, int] = {}
        for notification_id, key, _delivery_id in sorted(row for row in result if row[0] is not None):
            new_per_key[key] += 1
            first_of_key.setdefault(key, notification_id)
        if robot is not None and robot.robot_active and first_of_key:
            queued.extend(_robot_deliveries(tenant, robot, first_of_key, now))
        for start in range(0, len(queued), DELIVER_BATCH):
            batch = queued[start : start + DELIVER_BATCH]
            transaction.on_commit(
                partial(enqueue, "deliver_many", tenant.pk, delivery_ids=batch), robust=True
            )
    return new_per_key


# One statement: the notifications that are NEW (ON CONFLICT DO NOTHING RETURNING, in the order
# given), then an email delivery for each new one whose recipient has an address, in notification
# id order. Rows come back as (notification id, dedupe_key, NULL) and (NULL, NULL, delivery id).
_NOTIFY_MANY_SQL = """
WITH note AS (
    INSERT INTO {notification}
        (tenant_id, recipient_id, kind, title, body, link, dedupe_key, created_at, updated_at)
    SELECT %(tenant)s, u.recipient_id, u.kind, u.title, u.body, u.link, u.dedupe_key, %(now)s, %(now)s
    FROM ROWS FROM (json_to_recordset(%(rows)s::json)
            AS (recipient_id bigint, kind text, title text, body text, link text, dedupe_key text))
        WITH ORDINALITY AS u(recipient_id, kind, title, body, link, dedupe_key, position)
    ORDER BY u.position
    ON CONFLICT (tenant_id, recipient_id, dedupe_key) DO NOTHING
    RETURNING id, recipient_id, dedupe_key
), mail AS (
    INSERT INTO {delivery}
        (tenant_id, notification_id, channel, dedupe_key, target, status, attempts,
         next_attempt_at, last_error, created_at, updated_at)
    SELECT %(tenant)s, note.id, %(email)s, note.dedupe_key, e.target, %(pending)s, 0, %(now)s, '',
           %(now)s, %(now)s
    FROM note JOIN json_to_recordset(%(emails)s::json) AS e(user_id bigint, target text)
        ON e.user_id = note.recipient_id
    ORDER BY note.id
    RETURNING id
)
SELECT id, dedupe_key, NULL::bigint FROM note
UNION ALL
SELECT NULL, NULL, id FROM mail
"""


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
            FROM ROWS FROM (json_to_recordset(%s::json) AS (notification_id bigint, dedupe_key text))
                WITH ORDINALITY AS u(notification_id, dedupe_key, position)
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
                json_rows({"notification_id": first_of_key[key], "dedupe_key": key} for key in keys),
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
    with in_tenant(tenant):
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
    with in_tenant(tenant):
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
    with in_tenant(tenant):
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
    with in_tenant(tenant):
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
            enqueue_after_commit("send_sms", tenant.pk, sms_id=sms.pk)
    return sms


def mask_secrets(message: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, "*" * len(secret))
    return message


# --- e-mail to customers -----------------------------------------------------------------------


@transaction.atomic
def email_send(
    *,
    tenant: Tenant,
    address: str,
    subject: str,
    body: str,
    dedupe_key: str,
    headers: Mapping[str, str] | None = None,
) -> OutboundEmail:
    """Record an e-mail to ``address`` once per ``dedupe_key`` and send it after commit through
    Django's mail backend (a stable Message-ID per row); returns the (existing) row."""
    address = (address or "").strip()
    errors = {}
    if not address or "@" not in address:
        errors["address"] = gettext("收件地址无效。")
    if not (subject or "").strip():
        errors["subject"] = gettext("邮件主题不能为空。")
    if not body:
        errors["body"] = gettext("邮件正文不能为空。")
    if errors:
        raise ValidationError(errors)
    if not dedupe_key:
        raise ValueError("email_send() needs a dedupe_key")
    dedupe_key = normalize_dedupe_key(dedupe_key)
    with in_tenant(tenant):
        email, created = OutboundEmail.objects.get_or_create(
            tenant=tenant,
            dedupe_key=dedupe_key,
            defaults={
                "address": address,
                "subject": subject.replace("\r", " ").replace("\n", " ")[:200],
                "body": body,
                "headers": dict(headers or {}),
            },
        )
        if created:
            enqueue_after_commit("send_email", tenant.pk, email_id=email.pk)
    return email
