"""Many SMS at once: :func:`sms_send_many` is ``sms_send`` for a batch (push rule runs), in a
constant number of statements. Kept beside ``services`` so that module stays one concern per room."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm.models import Tenant
from crm.notifications.models import OutboundStatus, SmsMessage
from crm.notifications.outbound import enqueue, in_tenant, normalize_dedupe_key
from crm.notifications.sms import backend_path


@dataclass(frozen=True)
class SmsSpec:
    """One ``sms_send()`` call's arguments (no secrets), for :func:`sms_send_many`."""

    phone: str
    message: str
    dedupe_key: str


# SMS rows queued per broker message by sms_send_many (one task claims and sends them one by one,
# so a batch leaves at the provider's pace, each row with its own retries).
SMS_BATCH = 100


@transaction.atomic
def sms_send_many(*, tenant: Tenant, messages: Sequence[SmsSpec]) -> dict[str, int]:
    """:func:`sms_send` for many messages in a constant number of statements.

    Same rules: one row per ``dedupe_key`` (``INSERT … ON CONFLICT DO NOTHING``; an existing key is
    not sent again), sent after commit. Returns the NEW rows' ids by (normalized) dedupe_key.
    """
    rows: dict[str, SmsSpec] = {}
    for spec in messages:
        if not (spec.phone or "").strip() or not spec.message:
            raise ValidationError({"phone": gettext("手机号不能为空。")})
        if not spec.dedupe_key:
            raise ValueError("sms_send_many() needs a dedupe_key for every message")
        rows.setdefault(normalize_dedupe_key(spec.dedupe_key), spec)
    if not rows:
        return {}
    keys = sorted(rows)  # the order of concurrent callers' unique index locks
    now = timezone.now()
    with in_tenant(tenant), connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {SmsMessage._meta.db_table}
                (tenant_id, status, attempts, next_attempt_at, last_error, created_at, updated_at,
                 phone, message, display_message, dedupe_key, backend, provider_message_id)
            SELECT %s, %s, 0, %s, '', %s, %s, u.phone, u.message, u.message, u.dedupe_key, %s, ''
            FROM unnest(%s::text[], %s::text[], %s::text[])
                WITH ORDINALITY AS u(phone, message, dedupe_key, position)
            ORDER BY u.position
            ON CONFLICT (tenant_id, dedupe_key) DO NOTHING
            RETURNING id, dedupe_key
            """,
            [
                tenant.pk,
                OutboundStatus.PENDING.value,
                now,
                now,
                now,
                backend_path(),
                [rows[key].phone.strip() for key in keys],
                [rows[key].message for key in keys],
                keys,
            ],
        )
        created = {key: sms_id for sms_id, key in sorted(cursor.fetchall())}
    queued = sorted(created.values())
    for start in range(0, len(queued), SMS_BATCH):
        batch = queued[start : start + SMS_BATCH]
        transaction.on_commit(partial(enqueue, "send_sms_many", tenant.pk, sms_ids=batch), robust=True)
    return created
