"""Leads: assignment (round robin), creation, public intake and the first-response SLA scan."""

from __future__ import annotations

import datetime
from typing import NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from crm import events
from crm.bulk import json_rows
from crm.models import Tenant, User
from crm.notifications.services import NotificationSpec, normalize_dedupe_key
from crm.permissions import RECEIVES_ESCALATIONS, SELLS, has_duty
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
from customers.services._common import _notify_many
from customers.services.classification import customer_recompute
from customers.services.customers import normalize_email, normalize_phone
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
    email: str = "",
) -> Lead:
    """Record an inquiry: attach to (or create) the customer by phone, start the SLA, assign.

    ``email`` (optional) is stored on a new customer, and on an existing one only when it has none:
    an inquiry form must not overwrite an address staff recorded.

    Publishes ``lead_created`` (``lead_id``, ``customer_id``, ``referral_code``) after commit.
    """
    if source_channel not in SourceChannel.values:
        raise ValidationError(
            {"source_channel": gettext("未知的来源渠道：%(value)s") % {"value": source_channel}}
        )
    email = normalize_email(email)
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
            customer = Customer(
                tenant=tenant, name=name, phone=normalized, email=email, source_channel=source_channel
            )
            try:
                with transaction.atomic():
                    customer.save()
            except IntegrityError:  # created concurrently: attach to the winner
                customer = Customer.objects.select_for_update(of=("self",)).get(phone=normalized)
    if customer.is_anonymised:
        raise ValidationError({"customer": gettext("该客户已匿名化。")})
    if email and not customer.email:
        customer.email = email

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
    email: str = "",
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
    email = normalize_email(email)
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
            email=email,
        )
        return lead, False
    if email and not recent.customer.email:
        Customer.objects.filter(pk=recent.customer_id, email="").update(
            email=email, updated_at=timezone.now()
        )
    content = gettext("重复询盘（来源：%(channel)s），已合并到线索 #%(lead)s。") % {
        "channel": SourceChannel(source_channel).label,
        "lead": recent.pk,
    }
    if note.strip():
        content += gettext("留言：%(note)s") % {"note": note.strip()}
    # The customer row is the follow-up writers' lock (follow_up_create takes it too): the
    # database's superseded marker (customers 0014) sees one new touch of a customer at a time.
    list(Customer.objects.select_for_update(of=("self",)).filter(pk=recent.customer_id).values_list("pk"))
    FollowUp.objects.create(
        tenant=tenant,
        customer=recent.customer,
        author=None,
        kind=FollowUpKind.NOTE,
        content=content,
        occurred_at=timezone.now(),
    )
    return recent, True


class _DueLead(NamedTuple):
    """What the breach scan reads of a claimed lead (a tuple: no model instance per row)."""

    pk: int
    customer_id: int
    assignee_id: int | None
    source_channel: str
    first_response_due_at: datetime.datetime
    customer_name: str


_DUE_LEAD_COLUMNS = (
    "pk",
    "customer_id",
    "assignee_id",
    "source_channel",
    "first_response_due_at",
    "customer__name",
)


def lead_sla_scan(*, tenant: Tenant, now: datetime.datetime | None = None, batch_size: int = 500) -> int:
    """Notify each breached lead's assignee and the managers exactly once; optionally reassign.

    Safe under duplicated beats and concurrent workers: due rows are claimed with SKIP LOCKED and
    the decision is the insert of the unique ``LeadSlaBreach`` row in the same transaction
    (``ON CONFLICT DO NOTHING``: a lead another scan decided first is skipped). A batch costs a
    constant number of statements (breach rows, lead and customer updates, notifications, outbox),
    each set-based from one JSON parameter (:mod:`crm.bulk`).
    """
    now = now or timezone.now()
    with transaction.atomic():
        leads = [
            _DueLead(*row)
            for row in Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LeadStatus.OPEN, sla_breached=False, first_response_due_at__lte=now)
            .order_by("first_response_due_at")
            .values_list(*_DUE_LEAD_COLUMNS)[:batch_size]
        ]
        if not leads:
            return 0
        settings_row = customer_settings_for(tenant=tenant, lock=True)
        decided = _insert_breaches(tenant=tenant, leads=leads)
        leads = [lead for lead in leads if lead.pk in decided]
        if not leads:
            return 0
        staff = _staff_with(tenant=tenant, user_ids={lead.assignee_id for lead in leads})
        managers = [
            user for user in staff.values() if user.is_active and has_duty(user, RECEIVES_ESCALATIONS)
        ]
        reassigned = _reassign_breached(tenant=tenant, settings_row=settings_row, leads=leads)
        _mark_breached(tenant=tenant, leads=leads, reassigned=reassigned)
        channel_labels = {value: str(label) for value, label in SourceChannel.choices}
        unassigned = gettext("未分配")
        link = customer_link_format()
        specs = []
        for lead in leads:
            assignee = staff.get(lead.assignee_id) if lead.assignee_id is not None else None
            recipients = [user for user in [assignee, *managers] if user is not None and user.is_active]
            new_assignee = reassigned.get(lead.pk)
            if new_assignee is not None:
                recipients.append(new_assignee)
            channel = channel_labels.get(lead.source_channel, lead.source_channel)
            overdue_minutes = int((now - lead.first_response_due_at).total_seconds() // 60)
            specs.append(
                NotificationSpec(
                    recipients=list({user.pk: user for user in recipients}.values()),
                    kind="lead_sla_breach",
                    title=f"线索超时未响应：{lead.customer_name}",
                    body=(
                        f"{channel}线索已超过首次响应时限 {overdue_minutes} 分钟，"
                        f"负责人：{new_assignee or assignee or unassigned}。"
                    ),
                    link=link.format(lead.customer_id),
                    dedupe_key=f"lead-sla-breach:{lead.pk}",
                )
            )
        notified = _notify_many(tenant=tenant, notifications=specs)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {LeadSlaBreach._meta.db_table} AS breach
                SET notified = u.notified, reassigned_to_id = u.reassigned_to_id
                FROM json_to_recordset(%s::json) AS u(id bigint, notified integer, reassigned_to_id bigint)
                WHERE breach.tenant_id = %s AND breach.id = u.id
                """,
                [
                    json_rows(
                        {
                            "id": decided[lead.pk],
                            "notified": notified[normalize_dedupe_key(spec.dedupe_key)],
                            "reassigned_to_id": getattr(reassigned.get(lead.pk), "pk", None),
                        }
                        for lead, spec in zip(leads, specs, strict=True)
                    ),
                    tenant.pk,
                ],
            )
        events.publish_many(
            events.EventType.LEAD_SLA_BREACHED,
            tenant=tenant,
            payloads=[{"lead_id": lead.pk, "customer_id": lead.customer_id} for lead in leads],
        )
    return len(leads)


def customer_link_format() -> str:
    """The customer page's path with ``{}`` for the id: one ``reverse()`` for a whole batch."""
    placeholder = 918273645546372819  # an id no real path contains
    return reverse("customers:detail", args=[placeholder]).replace(str(placeholder), "{}")


def _staff_with(*, tenant: Tenant, user_ids: set[int | None]) -> dict[int, User]:
    """The tenant's staff (active or not) by id, plus any of ``user_ids`` outside it (a foreign
    assignee must still reach notify_many, which refuses it)."""
    staff = {user.pk: user for user in staff_of_tenant(tenant=tenant, active_only=False)}
    missing = {pk for pk in user_ids if pk is not None and pk not in staff}
    if missing:
        staff.update((user.pk, user) for user in User.objects.filter(pk__in=missing))
    return staff


def _insert_breaches(*, tenant: Tenant, leads: list[_DueLead]) -> dict[int, int]:
    """The exactly-once decision for a batch: ``{lead_id: breach_id}`` of the rows THIS call inserted."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LeadSlaBreach._meta.db_table}
                (tenant_id, lead_id, assignee_id, detected_at, notified)
            SELECT %s, u.lead_id, u.assignee_id, now(), 0
            FROM ROWS FROM (json_to_recordset(%s::json) AS (lead_id bigint, assignee_id bigint))
                WITH ORDINALITY AS u(lead_id, assignee_id, position)
            ORDER BY u.position
            ON CONFLICT (tenant_id, lead_id) DO NOTHING
            RETURNING lead_id, id
            """,
            [tenant.pk, json_rows({"lead_id": lead.pk, "assignee_id": lead.assignee_id} for lead in leads)],
        )
        return dict(cursor.fetchall())


def _mark_breached(*, tenant: Tenant, leads: list[_DueLead], reassigned: dict[int, User]) -> None:
    """One UPDATE of the batch's leads: breached, and the new assignee where one was chosen."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Lead._meta.db_table} AS lead
            SET sla_breached = true, assignee_id = COALESCE(u.assignee_id, lead.assignee_id)
            FROM json_to_recordset(%s::json) AS u(id bigint, assignee_id bigint)
            WHERE lead.tenant_id = %s AND lead.id = u.id
            """,
            [
                json_rows(
                    {"id": lead.pk, "assignee_id": getattr(reassigned.get(lead.pk), "pk", None)}
                    for lead in leads
                ),
                tenant.pk,
            ],
        )


def _reassign_breached(
    *, tenant: Tenant, settings_row: CustomerSettings, leads: list[_DueLead]
) -> dict[int, User]:
    """Round robin over the on-duty sales (skipping each lead's own assignee) when the tenant asks
    for reassignment on breach; ``{lead_id: new assignee}``. The customers and the settings row
    are written once per batch (the leads by the caller's update); one ``lead_assigned`` event per
    reassigned lead."""
    if not settings_row.reassign_on_breach:
        return {}
    candidates = on_duty_sales(tenant=tenant)
    last = settings_row.round_robin_last_user_id or 0
    chosen: dict[int, User] = {}
    for lead in leads:
        eligible = [user for user in candidates if lead.assignee_id is None or user.pk != lead.assignee_id]
        if not eligible:
            continue
        new_assignee = next((user for user in eligible if user.pk > last), eligible[0])
        last = new_assignee.pk
        chosen[lead.pk] = new_assignee
    if not chosen:
        return {}
    settings_row.round_robin_last_user_id = last
    settings_row.save(update_fields=["round_robin_last_user_id"])
    moved = [lead for lead in leads if lead.pk in chosen]
    owners = {lead.customer_id: chosen[lead.pk].pk for lead in moved}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Customer._meta.db_table} AS customer SET owner_id = u.owner_id
            FROM json_to_recordset(%s::json) AS u(id bigint, owner_id bigint)
            WHERE customer.tenant_id = %s AND customer.id = u.id
            """,
            [json_rows({"id": pk, "owner_id": owner} for pk, owner in owners.items()), tenant.pk],
        )
    events.publish_many(
        events.EventType.LEAD_ASSIGNED,
        tenant=tenant,
        payloads=[
            {"lead_id": lead.pk, "customer_id": lead.customer_id, "assignee_id": chosen[lead.pk].pk}
            for lead in moved
        ],
    )
    return chosen
