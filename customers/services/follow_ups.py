"""Follow-ups. A planned next follow-up is reminded through the ``sales`` app's follow-up task
(its ``follow_up.created`` subscriber keeps one open task per customer in step with the plan)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm import events
from crm.models import Tenant, User
from crm.permissions import SELLS, has_duty
from customers.models import (
    HUMAN_FOLLOW_UP_KINDS,
    Customer,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    Lead,
    LeadStatus,
)
from customers.services.classification import customer_recompute
from customers.services.pool import _take_from_pool

FOLLOW_UP_CLOCK_SKEW = datetime.timedelta(minutes=5)


FOLLOW_UP_BACKDATE_LIMIT = datetime.timedelta(days=7)  # a week's site visits can still be written up


@transaction.atomic
def follow_up_create(
    *,
    tenant: Tenant,
    customer: Customer,
    author: User | None,
    kind: str,
    content: str,
    outcome: str = "",
    occurred_at: datetime.datetime | None = None,
    next_follow_up_at: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> FollowUp:
    """Log a touch. A human touch stops the clock of the customer's open leads.

    ``occurred_at`` (when the contact happened) may be back-dated by at most
    ``FOLLOW_UP_BACKDATE_LIMIT`` and lie at most ``FOLLOW_UP_CLOCK_SKEW`` ahead. The lead's first
    response is always the server's recording time (``now``; only demo seeding passes it), so a
    back-dated note cannot flatter response statistics.
    """
    if customer.tenant_id != tenant.pk:
        raise ValidationError({"customer": gettext("客户不存在。")})
    if kind not in FollowUpKind.values:
        raise ValidationError({"kind": gettext("未知的跟进方式：%(value)s") % {"value": kind}})
    if outcome and outcome not in FollowUpOutcome.values:
        raise ValidationError({"outcome": gettext("未知的跟进结果：%(value)s") % {"value": outcome}})
    content = (content or "").strip()
    if not content:
        raise ValidationError({"content": gettext("请填写跟进内容。")})
    now = now or timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + FOLLOW_UP_CLOCK_SKEW:
        raise ValidationError({"occurred_at": gettext("跟进时间不能晚于当前时间。")})
    if occurred_at < now - FOLLOW_UP_BACKDATE_LIMIT:
        raise ValidationError(
            {
                "occurred_at": ValidationError(
                    gettext("跟进时间最多只能补记 %(days)s 天前的。")
                    % {"days": FOLLOW_UP_BACKDATE_LIMIT.days},
                    code="follow_up_backdated",
                )
            }
        )
    if next_follow_up_at is not None and next_follow_up_at <= occurred_at:
        raise ValidationError({"next_follow_up_at": gettext("下次跟进时间必须晚于本次跟进时间。")})
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    if customer.is_anonymised:
        raise ValidationError({"customer": gettext("该客户已匿名化。")})
    follow_up = FollowUp.objects.create(
        tenant=tenant,
        customer=customer,
        author=author,
        kind=kind,
        content=content,
        outcome=outcome,
        occurred_at=occurred_at,
        next_follow_up_at=next_follow_up_at,
    )
    if kind in HUMAN_FOLLOW_UP_KINDS:
        customer.last_touch_at = max(filter(None, [customer.last_touch_at, occurred_at]))
        open_leads = Lead.objects.select_for_update(of=("self",)).filter(
            customer=customer,
            status=LeadStatus.OPEN,
            first_responded_at__isnull=True,
            received_at__lte=occurred_at,  # a back-dated note can't answer a later inquiry
        )
        for lead in open_leads:  # answered when recorded, whatever time the rep typed in
            lead.status = LeadStatus.RESPONDED
            lead.first_responded_at = now
            lead.first_responder = author
            lead.response_seconds = max(0, int((now - lead.clock_started_at).total_seconds()))
            if now > lead.first_response_due_at:
                lead.sla_breached = True
            lead.save(
                update_fields=[
                    "status",
                    "first_responded_at",
                    "first_responder",
                    "response_seconds",
                    "sla_breached",
                ]
            )
    if kind == FollowUpKind.MEASURE and customer.measured_at is None:
        customer.measured_at = occurred_at
    if next_follow_up_at is not None:
        customer.next_follow_up_at = next_follow_up_at
    elif customer.next_follow_up_at and customer.next_follow_up_at <= occurred_at:
        customer.next_follow_up_at = None
    if customer.in_pool and author is not None and has_duty(author, SELLS):
        _take_from_pool(tenant=tenant, customer=customer, user=author)  # a recorded claim
    customer_recompute(tenant=tenant, customer=customer, save=False)
    customer.save()
    events.publish(
        events.EventType.FOLLOW_UP_CREATED, tenant=tenant, follow_up_id=follow_up.pk, customer_id=customer.pk
    )
    return follow_up
