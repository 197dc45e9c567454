"""A push rule run's batched decision: claim many (rule, customer, period) rows in one statement.

Used by :func:`engagement.services.pushes.push_rule_run` for SMS and WeChat rules; the same
exactly-once rule as the one-at-a-time decision (the dispatch row's unique constraint), a
constant number of statements per batch.
"""

from __future__ import annotations

import datetime

from django.db import connection, transaction

from crm.models import Tenant
from customers.models import Customer
from engagement.models import DispatchStatus, PushDispatch, PushRule
from engagement.services.push_clock import in_control_group, quiet_hours_end
from engagement.services.sending import MarketingMessage, marketing_send_many, public_url
from engagement.services.tracking import track_urls

# Customers decided per transaction by a run: a constant number of statements each (SMS channel).
RUN_BATCH = 500


def _insert_dispatches(
    *,
    tenant: Tenant,
    rule: PushRule,
    key: str,
    now: datetime.datetime,
    send_after: datetime.datetime,
    decided: list[tuple[int, bool, str]],
    trigger_ref: str,
) -> dict[int, tuple[int, str]]:
    """Claim (rule, customer, period) for each ``(customer_id, held_out, status)`` in one
    ``INSERT … ON CONFLICT DO NOTHING RETURNING``: rows another run (or a redelivered event) decided
    already are skipped by the unique constraint. Returns ``{customer_id: (dispatch_id, status)}``."""
    decided = sorted(decided)  # concurrent runs take the unique index entries in the same order
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {PushDispatch._meta.db_table}
                (tenant_id, rule_id, customer_id, period_key, held_out, decided_at, status, trigger_ref,
                 send_after, sent_at, open_count, click_count, skip_reason)
            SELECT %s, %s, u.customer_id, %s, u.held_out, %s, u.status, %s,
                   CASE WHEN u.status = %s THEN %s::timestamptz END,
                   CASE WHEN u.status = %s THEN %s::timestamptz END, 0, 0, ''
            FROM unnest(%s::bigint[], %s::boolean[], %s::text[])
                WITH ORDINALITY AS u(customer_id, held_out, status, position)
            ORDER BY u.position
            ON CONFLICT (tenant_id, rule_id, customer_id, period_key) DO NOTHING
            RETURNING id, customer_id, status
            """,
            [
                tenant.pk,
                rule.pk,
                key,
                now,
                trigger_ref[:60],
                DispatchStatus.PENDING.value,
                send_after,
                DispatchStatus.SENT.value,
                now,
                [customer_id for customer_id, _held, _status in decided],
                [held for _customer, held, _status in decided],
                [status for _customer, _held, status in decided],
            ],
        )
        return {customer_id: (dispatch_id, status) for dispatch_id, customer_id, status in cursor.fetchall()}


def _decide_batch(
    *,
    tenant: Tenant,
    rule: PushRule,
    customers: list[Customer],
    key: str,
    now: datetime.datetime,
    capped: set[int],
    trigger_ref: str = "",
) -> dict[int, str]:
    """Decide a batch of (rule, customer, period) in one transaction: the dispatch rows and the sends.

    Returns ``{customer_id: status}`` of the rows written. Nothing is written for a customer who is
    capped (unless in the control group), decided before (another run, a retried task, a
    redelivered event) or without consent at send time (``marketing_send_many`` leaves them out and
    their claimed row is removed again in the same transaction).
    """
    send_after = quiet_hours_end(rule, now)
    decided = []
    for customer in customers:
        held_out = in_control_group(rule_id=rule.pk, customer_id=customer.pk, percent=rule.control_percent)
        if customer.pk in capped and not held_out:
            continue
        if held_out:
            status = DispatchStatus.HELD_OUT
        else:
            status = DispatchStatus.PENDING if send_after > now else DispatchStatus.SENT
        decided.append((customer.pk, held_out, str(status)))
    if not decided:
        return {}
    by_id = {customer.pk: customer for customer in customers}
    with transaction.atomic():
        claimed = _insert_dispatches(
            tenant=tenant,
            rule=rule,
            key=key,
            now=now,
            send_after=send_after,
            decided=decided,
            trigger_ref=trigger_ref,
        )
        to_send = {c: d for c, (d, status) in claimed.items() if status == DispatchStatus.SENT}
        if to_send:
            item = rule.item
            links = track_urls(tenant_id=tenant.pk, dispatch_ids=list(to_send.values()))
            sent = marketing_send_many(
                tenant=tenant,
                channel=rule.channel,
                messages=[
                    MarketingMessage(
                        customer=by_id[customer_id],
                        title=item.title,
                        body=item.summary,
                        link=public_url(links[dispatch_id]),
                        dedupe_key=f"push:{rule.pk}:{customer_id}:{key}",
                    )
                    for customer_id, dispatch_id in sorted(to_send.items())
                ],
            )
            refused = [dispatch_id for customer_id, dispatch_id in to_send.items() if customer_id not in sent]
            if refused:  # consent withdrawn between audience and send: nothing written for them
                PushDispatch.objects.filter(tenant=tenant, pk__in=refused).delete()
                claimed = {c: row for c, row in claimed.items() if row[0] not in set(refused)}
    return {customer_id: status for customer_id, (_dispatch, status) in claimed.items()}
