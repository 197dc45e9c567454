"""The public pool: which customers fall back into it, and claiming them."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.permissions import has_permission
from customers.models import (
    POOLABLE_LIFECYCLES,
    Customer,
    CustomerOwnership,
    Intent,
    Lead,
    LeadStatus,
    OwnershipReason,
    PoolClaim,
)
from customers.services.settings import customer_settings_for


def poolable_customer_q(prefix: str = "") -> Q:
    """Only a customer still in early sales (nothing signed, no project past it) may go to the pool:
    a signed customer's new inquiry stays with its owner even when it goes unanswered."""
    return Q(**{f"{prefix}lifecycle__in": POOLABLE_LIFECYCLES}) & ~Q(**{f"{prefix}intent": Intent.SIGNED})


def lead_pool_scan(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """Second deadline: unanswered leads and long-untouched customers return to the pool (公海)."""
    now = now or timezone.now()
    moved = 0
    with transaction.atomic():
        leads = list(
            Lead.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LeadStatus.OPEN, pool_due_at__lte=now)
            .filter(poolable_customer_q("customer__"))
            .order_by("pool_due_at")[:500]
        )
        customer_ids = {lead.customer_id for lead in leads}
        for lead in leads:
            lead.status = LeadStatus.POOLED
            lead.assignee = None
        Lead.objects.bulk_update(leads, ["status", "assignee"])
        if customer_ids:
            moved += (
                Customer.objects.filter(pk__in=customer_ids, in_pool=False)
                .filter(poolable_customer_q())
                .update(in_pool=True, owner=None, pooled_at=now, pool_reason="线索超时未响应")
            )
        settings_row = customer_settings_for(tenant=tenant)
        if settings_row.pool_after_idle_days:
            cutoff = now - datetime.timedelta(days=settings_row.pool_after_idle_days)
            moved += (
                Customer.objects.filter(
                    in_pool=False,
                    owner__isnull=False,
                    anonymised_at__isnull=True,
                )
                .filter(poolable_customer_q())
                .exclude(intent=Intent.LOST)
                .filter(Q(last_touch_at__lt=cutoff) | Q(last_touch_at__isnull=True, created_at__lt=cutoff))
                # A claim, a new inquiry or a reassignment restarts the idle period
                # (else the next scan undoes it).
                .exclude(Exists(PoolClaim.objects.filter(customer=OuterRef("pk"), claimed_at__gte=cutoff)))
                .exclude(
                    Exists(
                        CustomerOwnership.objects.filter(
                            customer=OuterRef("pk"), reason=OwnershipReason.REASSIGNED, started_at__gte=cutoff
                        )
                    )
                )
                .exclude(Exists(Lead.objects.filter(customer=OuterRef("pk"), received_at__gte=cutoff)))
                .update(
                    in_pool=True,
                    owner=None,
                    pooled_at=now,
                    pool_reason=f"{settings_row.pool_after_idle_days} 天无跟进",
                )
            )
    return moved


@transaction.atomic
def customer_claim_from_pool(*, tenant: Tenant, customer: Customer, user: User) -> PoolClaim:
    """First come, first served: the row lock plus a unique claim per pooling make it race-free."""
    if not has_permission(user, "customers.claim"):
        raise ValidationError({"customer": _("只有销售可以从公海领取客户。")})
    locked = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    if not locked.in_pool:
        raise ValidationError({"customer": _("该客户已被领取，或不在公海中。")})
    try:
        with transaction.atomic():
            claim = PoolClaim.objects.create(
                tenant=tenant, customer=locked, claimed_by=user, pooled_at=locked.pooled_at
            )
    except IntegrityError:
        raise ValidationError({"customer": _("该客户已被领取，或不在公海中。")})
    _take_from_pool(tenant=tenant, customer=locked, user=user, claim=claim)
    locked.save(update_fields=["in_pool", "owner", "pool_reason", "updated_at"])
    return claim


def _take_from_pool(
    *, tenant: Tenant, customer: Customer, user: User, claim: PoolClaim | None = None
) -> PoolClaim:
    """Record the claim (once per pooling) and hand the customer and its pooled leads to ``user``.

    The caller holds the customer row lock and saves ``customer``.
    """
    if claim is None:
        claim = PoolClaim.objects.create(
            tenant=tenant, customer=customer, claimed_by=user, pooled_at=customer.pooled_at
        )
    customer.in_pool = False
    customer.owner = user
    customer.pool_reason = ""
    Lead.objects.filter(customer=customer, status=LeadStatus.POOLED, first_responded_at__isnull=True).update(
        assignee=user
    )
    return claim
