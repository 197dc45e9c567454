"""Leads: assignment (round robin), creation, public intake and the first-response SLA scan."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from crm import events
from crm.models import Tenant, User
from crm.permissions import SELLS
from crm.selectors import staff_of_tenant
from customers.models import (
    Customer,
    CustomerSettings,
    FollowUp,
    FollowUpKind,
    Lead,
    LeadSlaBreach,
    LeadStatus,
    SourceChannel,
)
from customers.services._common import _managers, _notify
from customers.services.classification import customer_recompute
from customers.services.customers import normalize_phone
from customers.services.settings import business_calendar_for, customer_settings_for


def on_duty_sales(*, tenant: Tenant) -> list[User]:
    return [user for user in staff_of_tenant(tenant=tenant, duty=SELLS) if user.is_on_duty]


def next_round_robin(
    *, tenant: Tenant, settings_row: CustomerSettings, exclude: User | None = None
) -> User | None:
    """The on-duty sales user after the last one assigned (caller holds the settings row lock)."""
    candidates = [user for user in on_duty_sales(tenant=tenant) if exclude is None or user.pk != exclude.pk]
    if not candidates:
        return None
    last = settings_row.round_robin_last_user_id or 0
    chosen = next((user for user in candidates if user.pk > last), candidates[0])
    settings_row.round_robin_last_user_id = chosen.pk
    settings_row.save(update_fields=["round_robin_last_user_id"])
    return chosen


@transaction.atomic
def lead_create(
    *,
    tenant: Tenant,
    name: str,
    phone: str,
    source_channel: str,
    received_at: datetime.datetime | None = None,
    note: str = "",
    created_by: User | None = None,
    customer: Customer | None = None,
    referral_code: str = "",
) -> Lead:
    """Record an inquiry: attach to (or create) the customer by phone, start the SLA, assign.

    Publishes ``lead_created`` (``lead_id``, ``customer_id``, ``referral_code``) after commit.
    """
    if source_channel not in SourceChannel.values:
        raise ValidationError(
            {"source_channel": gettext("未知的来源渠道：%(value)s") % {"value": source_channel}}
        )
    received_at = received_at or timezone.now()
    if timezone.is_naive(received_at):
        raise ValidationError({"received_at": gettext("接收时间必须带时区。")})
    if received_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"received_at": gettext("接收时间不能晚于当前时间。")})
    if customer is not None:
        if customer.tenant_id != tenant.pk:
            raise ValidationError({"customer": gettext("客户不存在。")})
        customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    else:
        normalized = normalize_phone(phone)
        name = (name or "").strip()
        if not name:
            raise ValidationError({"name": gettext("请填写姓名。")})
        if len(name) > 50:
            raise ValidationError({"name": gettext("姓名最多 50 个字。")})
        customer = Customer.objects.select_for_update(of=("self",)).filter(phone=normalized).first()
        if customer is None:
            customer = Customer(tenant=tenant, name=name, phone=normalized, source_channel=source_channel)
            try:
                with transaction.atomic():
                    customer.save()
            except IntegrityError:  # created concurrently: attach to the winner
                customer = Customer.objects.select_for_update(of=("self",)).get(phone=normalized)
    if customer.is_anonymised:
        raise ValidationError({"customer": gettext("该客户已匿名化。")})

    settings_row = customer_settings_for(tenant=tenant, lock=True)
    calendar = business_calendar_for(tenant=tenant, around=received_at, settings_row=settings_row)
    clock_start, outside = calendar.clock_start(received_at)
    due = calendar.add_minutes(clock_start, tenant.lead_response_sla_minutes)
    pool_due = calendar.add_minutes(clock_start, settings_row.pool_after_minutes)
    owner = (
        customer.owner
        if customer.owner_id
        and customer.owner is not None
        and customer.owner.is_active
        and not customer.in_pool
        else None
    )
    assignee = owner
    if assignee is None and settings_row.auto_assign:
        assignee = next_round_robin(tenant=tenant, settings_row=settings_row)
    lead = Lead.objects.create(
        tenant=tenant,
        customer=customer,
        source_channel=source_channel,
        received_at=received_at,
        clock_started_at=clock_start,
        first_response_due_at=due,
        pool_due_at=max(pool_due, due),
        received_outside_hours=outside,
        note=note,
        referral_code=referral_code or "",
        assignee=assignee,
        created_by=created_by,
    )
    if customer.owner_id is None or customer.in_pool:
        customer.owner = assignee
        customer.in_pool = False
        customer.pooled_at = None
        customer.pool_reason = ""
    customer_recompute(tenant=tenant, customer=customer, settings_row=settings_row, save=False)
    customer.save()
    events.publish(
        events.EventType.LEAD_CREATED,
        tenant=tenant,
        lead_id=lead.pk,
        customer_id=customer.pk,
        referral_code=referral_code,
    )
    if assignee is not None:
        events.publish(
            events.EventType.LEAD_ASSIGNED,
            tenant=tenant,
            lead_id=lead.pk,
            customer_id=customer.pk,
            assignee_id=assignee.pk,
        )
    return lead


def _lock_phone(*, tenant: Tenant, phone: str) -> None:
    """Serialize intakes of one phone (transaction-scoped advisory lock): two parallel retries of a
    new customer's inquiry would otherwise both find no lead to merge into."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"intake:{tenant.pk}:{phone}"]
            )


@transaction.atomic
def lead_intake(
    *,
    tenant: Tenant,
    name: str,
    phone: str,
    source_channel: str,
    note: str = "",
    referral_code: str = "",
) -> tuple[Lead, bool]:
    """An inquiry from the public intake: a repeat of the same phone within
    ``CUSTOMERS_INTAKE_MERGE_HOURS`` joins that customer's recent (not pooled) lead, recorded on
    the timeline, so ad platforms that retry don't inflate lead counts or SLA breaches.

    Returns ``(lead, merged)``.
    """
    if source_channel not in SourceChannel.values:
        raise ValidationError(
            {"source_channel": gettext("未知的来源渠道：%(value)s") % {"value": source_channel}}
        )
    normalized = normalize_phone(phone)
    _lock_phone(tenant=tenant, phone=normalized)
    since = timezone.now() - datetime.timedelta(hours=settings.CUSTOMERS_INTAKE_MERGE_HOURS)
    recent = (
        Lead.objects.select_for_update(of=("self",))
        .filter(customer__phone=normalized, received_at__gte=since)
        .exclude(status=LeadStatus.POOLED)
        .order_by("-received_at", "-id")
        .first()
    )
    if recent is None or recent.customer.is_anonymised:
        lead = lead_create(
            tenant=tenant,
            name=name,
            phone=normalized,
            source_channel=source_channel,
            note=note,
            referral_code=referral_code,
        )
        return lead, False
    content = gettext("重复询盘（来源：%(channel)s），已合并到线索 #%(lead)s。") % {
        "channel": SourceChannel(source_channel).label,
        "lead": recent.pk,
    }
    if note.strip():
        content += gettext("留言：%(note)s") % {"note": note.strip()}
    FollowUp.objects.create(
        tenant=tenant,
        customer=recent.customer,
        author=None,
        kind=FollowUpKind.NOTE,
        content=content,
        occurred_at=timezone.now(),
    )
    return recent, True


def lead_sla_scan(*, tenant: Tenant, now: datetime.datetime | None = None, batch_size: int = 500) -> int:
    """Notify each breached lead's assignee and the managers exactly once; optionally reassign.

    Safe under duplicated beats and concurrent workers: due rows are claimed with SKIP LOCKED and
    the decision is the insert of the unique ``LeadSlaBreach`` row in the same transaction.
    """
    now = now or timezone.now()
    breached = 0
    with transaction.atomic():
        leads = list(
            Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LeadStatus.OPEN, sla_breached=False, first_response_due_at__lte=now)
            .select_related("customer", "assignee")
            .order_by("first_response_due_at")[:batch_size]
        )
        if not leads:
            return 0
        settings_row = customer_settings_for(tenant=tenant, lock=True)
        managers = _managers(tenant)
        for lead in leads:
            try:
                with transaction.atomic():
                    breach = LeadSlaBreach.objects.create(tenant=tenant, lead=lead, assignee=lead.assignee)
            except IntegrityError:
                continue  # another scan decided it first
            lead.sla_breached = True
            recipients = [user for user in [lead.assignee, *managers] if user is not None and user.is_active]
            recipients = list({user.pk: user for user in recipients}.values())
            update_fields = ["sla_breached"]
            if settings_row.reassign_on_breach:
                new_assignee = next_round_robin(
                    tenant=tenant, settings_row=settings_row, exclude=lead.assignee
                )
                if new_assignee is not None:
                    lead.assignee = new_assignee
                    breach.reassigned_to = new_assignee
                    update_fields.append("assignee")
                    Customer.objects.filter(pk=lead.customer_id).update(owner=new_assignee)
                    events.publish(
                        events.EventType.LEAD_ASSIGNED,
                        tenant=tenant,
                        lead_id=lead.pk,
                        customer_id=lead.customer_id,
                        assignee_id=new_assignee.pk,
                    )
                    if new_assignee.pk not in {user.pk for user in recipients}:
                        recipients.append(new_assignee)
            lead.save(update_fields=update_fields)
            overdue_minutes = int((now - lead.first_response_due_at).total_seconds() // 60)
            breach.notified = _notify(
                tenant=tenant,
                recipients=recipients,
                kind="lead_sla_breach",
                title=f"线索超时未响应：{lead.customer.name}",
                body=(
                    f"{lead.get_source_channel_display()}线索已超过首次响应时限 {overdue_minutes} 分钟，"
                    f"负责人：{lead.assignee or gettext('未分配')}。"
                ),
                link=reverse("customers:detail", args=[lead.customer_id]),
                dedupe_key=f"lead-sla-breach:{lead.pk}",
            )
            breach.save(update_fields=["notified", "reassigned_to"])
            events.publish(
                events.EventType.LEAD_SLA_BREACHED,
                tenant=tenant,
                lead_id=lead.pk,
                customer_id=lead.customer_id,
            )
            breached += 1
    return breached
