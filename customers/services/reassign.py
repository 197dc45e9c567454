"""Bulk reassignment (issue 14 §3): a departing rep's customers and open leads to one or several reps.

Rules (documented in docs/customers.md too):

- Customers are handed out round-robin over the chosen reps in customer-id order (one rep = all to
  them). Customers already owned by the rep they would get keep their owner and are not counted.
- **First-response SLA.** An open, unanswered lead follows its customer. Its new assignee gets a
  fresh first-response window measured in business hours from the reassignment
  (``tenant.lead_response_sla_minutes``, 15 by default) — or the time that was left, if that is
  longer. A lead already breached stays breached (the breach was the previous owner's; it is not
  notified twice), but its assignee changes.
- **Pool.** The lead's pool deadline restarts the same way (``pool_after_minutes`` of business
  time from the reassignment, never earlier than before or than the new first-response deadline),
  so the pool scan does not take the customer from its new owner for the old owner's silence.
  A pooled customer is taken out of the pool. The ownership history (``CustomerOwnership``) starts
  a new period, which (a reassignment) also restarts the idle-customer pool period (``lead_pool_scan``).
- Each new owner is notified once per batch; every customer gets a ``reassign`` audit row.
"""

from __future__ import annotations

import datetime
import uuid
from collections import Counter
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Tenant, User
from crm.permissions import has_permission, require_permission
from crm.workdays.business import BusinessCalendar
from customers.models import (
    AuditAction,
    Customer,
    CustomerOwnership,
    CustomerSettings,
    Lead,
    LeadStatus,
    OwnershipReason,
)
from customers.services._common import _notify
from customers.services.privacy import audit_log
from customers.services.settings import business_calendar_for, customer_settings_for

MAX_CUSTOMERS_PER_BATCH = 1000


@dataclass
class ReassignResult:
    reassigned: int = 0
    leads: int = 0
    by_owner: Counter = field(default_factory=Counter)
    assignments: list[tuple[int, int]] = field(default_factory=list)  # (customer id, new owner id)


def _error(field_name: str, message: str, code: str) -> ValidationError:
    return ValidationError({field_name: [ValidationError(message, code=code)]})


def reassignable_customers(*, owner: User | None = None) -> Q:
    """Customers a departing rep holds: owned by them, or with an open lead assigned to them."""
    if owner is None:
        return Q(pk__in=[])
    open_leads = Lead.objects.filter(assignee=owner, status=LeadStatus.OPEN).values("customer_id")
    return Q(owner=owner) | Q(pk__in=open_leads)


def _validate_reps(tenant: Tenant, reps: list[User]) -> list[User]:
    if not reps:
        raise _error("to_users", _("请至少选择一位接手的销售。"), "required")
    unique = list({rep.pk: rep for rep in reps}.values())
    for rep in unique:
        if rep.tenant_id != tenant.pk or not rep.is_active or not has_permission(rep, "customers.claim"):
            raise _error(
                "to_users",
                _("“%(name)s”不能接手客户（需为本公司在职销售或经理）。") % {"name": rep},
                "invalid_rep",
            )
    return sorted(unique, key=lambda rep: rep.pk)


def _restart_clocks(
    *,
    lead: Lead,
    calendar: BusinessCalendar,
    now: datetime.datetime,
    tenant: Tenant,
    settings_row: CustomerSettings,
) -> None:
    start, _outside = calendar.clock_start(now)
    if not lead.sla_breached:
        fresh_due = calendar.add_minutes(start, tenant.lead_response_sla_minutes)
        lead.first_response_due_at = max(lead.first_response_due_at, fresh_due)
    fresh_pool = calendar.add_minutes(start, settings_row.pool_after_minutes)
    lead.pool_due_at = max(lead.pool_due_at, fresh_pool, lead.first_response_due_at)


@transaction.atomic
def customers_reassign(
    *,
    tenant: Tenant,
    actor: User,
    customer_ids: list[int],
    to_users: list[User],
    now: datetime.datetime | None = None,
) -> ReassignResult:
    """Hand ``customer_ids`` to ``to_users`` round-robin, with their open and pooled leads."""
    require_permission(actor, "customers.reassign")
    reps = _validate_reps(tenant, list(to_users))
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        raise _error("customers", _("请至少选择一位客户。"), "required")
    if len(ids) > MAX_CUSTOMERS_PER_BATCH:
        raise _error(
            "customers",
            _("一次最多改派 %(max)s 位客户。") % {"max": MAX_CUSTOMERS_PER_BATCH},
            "too_many",
        )
    customers = list(Customer.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
    missing = sorted(set(ids) - {customer.pk for customer in customers})
    if missing:
        raise _error(
            "customers",
            _("客户不存在：%(ids)s") % {"ids": _("、").join(map(str, missing[:20]))},
            "not_found",
        )
    unusable = [customer for customer in customers if customer.is_merged or customer.is_anonymised]
    if unusable:
        raise _error(
            "customers",
            _("已合并或已匿名化的客户不能改派：%(ids)s")
            % {"ids": _("、").join(str(c.pk) for c in unusable[:20])},
            "not_reassignable",
        )

    now = now or timezone.now()
    settings_row = customer_settings_for(tenant=tenant)
    calendar = business_calendar_for(tenant=tenant, around=now, settings_row=settings_row)
    result = ReassignResult()
    batch = uuid.uuid4().hex[:12]
    for index, customer in enumerate(customers):
        rep = reps[index % len(reps)]
        previous_owner_id = customer.owner_id
        leads = list(
            Lead.objects.select_for_update(of=("self",)).filter(
                customer=customer,
                first_responded_at__isnull=True,
                status__in=[LeadStatus.OPEN, LeadStatus.POOLED],
            )
        )
        changed_leads = [
            lead for lead in leads if lead.assignee_id != rep.pk or lead.status == LeadStatus.OPEN
        ]
        if previous_owner_id == rep.pk and not customer.in_pool and not changed_leads:
            continue
        for lead in changed_leads:
            lead.assignee = rep
            if lead.status == LeadStatus.OPEN:
                _restart_clocks(
                    lead=lead, calendar=calendar, now=now, tenant=tenant, settings_row=settings_row
                )
        Lead.objects.bulk_update(changed_leads, ["assignee", "first_response_due_at", "pool_due_at"])
        customer.owner = rep
        customer.in_pool = False
        customer.pooled_at = None
        customer.pool_reason = ""
        customer.save(update_fields=["owner", "in_pool", "pooled_at", "pool_reason", "updated_at"])
        if previous_owner_id != rep.pk:
            CustomerOwnership.objects.filter(customer=customer, ended_at__isnull=True).update(
                reason=OwnershipReason.REASSIGNED, changed_by=actor
            )
        audit_log(
            tenant=tenant,
            actor=actor,
            action=AuditAction.REASSIGN,
            customer=customer,
            batch=batch,
            from_owner_id=previous_owner_id,
            to_owner_id=rep.pk,
            leads=[lead.pk for lead in changed_leads],
        )
        for lead in changed_leads:
            events.publish(
                events.EventType.LEAD_ASSIGNED,
                tenant=tenant,
                lead_id=lead.pk,
                customer_id=customer.pk,
                assignee_id=rep.pk,
            )
        events.publish(
            events.EventType.CUSTOMER_UPDATED, tenant=tenant, customer_id=customer.pk, fields=["owner"]
        )
        result.reassigned += 1
        result.leads += len(changed_leads)
        result.by_owner[rep.pk] += 1
        result.assignments.append((customer.pk, rep.pk))

    for rep in reps:
        count = result.by_owner.get(rep.pk, 0)
        if not count:
            continue
        _notify(
            tenant=tenant,
            recipients=[rep],
            kind="customers_reassigned",
            title=_("%(actor)s 改派给您 %(count)s 位客户") % {"actor": actor, "count": count},
            body=_("请尽快跟进，待响应线索的首次响应时限已为您重新计时。"),
            link=f"{reverse('customers:list')}?owner={rep.pk}",
            dedupe_key=f"customers-reassign:{batch}:{rep.pk}",
        )
    return result
