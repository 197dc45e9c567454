"""Derived classification axes (budget, value, loyalty, ...) recomputed from stored inputs."""

from __future__ import annotations

import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from crm.models import Tenant
from customers.models import (
    Activity,
    BudgetTier,
    Customer,
    CustomerSettings,
    FollowUpStatus,
    Intent,
    Lifecycle,
    Loyalty,
    ValueTier,
)
from customers.services.settings import customer_settings_for


def budget_tier_for(budget_fen: int | None, settings_row: CustomerSettings) -> str:
    if budget_fen is None:
        return BudgetTier.UNKNOWN
    if budget_fen < settings_row.budget_low_below_fen:
        return BudgetTier.LOW
    if budget_fen >= settings_row.budget_high_from_fen:
        return BudgetTier.HIGH
    return BudgetTier.MID


DERIVED_FIELDS = [
    "budget_tier",
    "lifecycle",
    "loyalty",
    "activity",
    "value_fen",
    "value_tier",
    "system_tags",
    "follow_up_status",
    "intent",
]


def derive_axes(
    customer: Customer, *, settings_row: CustomerSettings, now: datetime.datetime | None = None
) -> Customer:
    """Set every derived axis on ``customer`` (not saved) from its stored inputs."""
    now = now or timezone.now()
    customer.budget_tier = budget_tier_for(customer.budget_fen, settings_row)

    lifecycle: str
    if customer.signed_projects >= 2 and customer.project_lifecycle in ("", Lifecycle.SIGNED):
        lifecycle = Lifecycle.REPEAT
    elif customer.project_lifecycle:
        lifecycle = customer.project_lifecycle
    elif customer.signed_projects >= 1:
        lifecycle = Lifecycle.SIGNED
    elif customer.designer_id:
        lifecycle = Lifecycle.DESIGNING
    elif customer.measured_at:
        lifecycle = Lifecycle.MEASURED
    else:
        lifecycle = Lifecycle.LEAD
    customer.lifecycle = lifecycle

    if customer.signed_projects >= 2:
        customer.loyalty = Loyalty.RETURNING
    elif customer.signed_projects == 1:
        customer.loyalty = Loyalty.NEW
    else:
        customer.loyalty = Loyalty.POTENTIAL

    last_touch = customer.last_touch_at or customer.created_at or now
    silent = last_touch < now - datetime.timedelta(days=settings_row.silent_after_days)
    customer.activity = Activity.SILENT if silent else Activity.ACTIVE

    customer.value_fen = customer.contract_total_fen + customer.referral_credit_total_fen
    if (
        customer.is_vip
        or customer.value_fen >= settings_row.value_high_from_fen
        or customer.credited_referrals >= 3
    ):
        customer.value_tier = ValueTier.HIGH
    elif customer.value_fen > 0 or customer.credited_referrals >= 1:
        customer.value_tier = ValueTier.MID
    else:
        customer.value_tier = ValueTier.LOW

    if customer.signed_projects >= 1 and customer.intent != Intent.SIGNED:
        customer.intent = Intent.SIGNED
    if customer.last_touch_at is None:
        customer.follow_up_status = FollowUpStatus.FIRST_CONTACT
    elif silent:
        customer.follow_up_status = FollowUpStatus.DORMANT
    else:
        customer.follow_up_status = FollowUpStatus.FOLLOWING

    tags = []
    if customer.has_children:
        tags.append("亲子家庭")
    if customer.has_elderly:
        tags.append("三代同堂" if customer.has_children else "有老人")
    if customer.has_pets:
        tags.append("宠物家庭")
    if customer.works_from_home:
        tags.append("居家办公")
    if customer.budget_tier == BudgetTier.LOW:
        tags.append("预算敏感型")
    if customer.budget_tier == BudgetTier.HIGH:
        tags.append("高预算")
    if customer.is_vip:
        tags.append("VIP")
    if customer.credited_referrals:
        tags.append("推荐达人" if customer.credited_referrals >= 3 else "有转介绍")
    if customer.loyalty == Loyalty.RETURNING:
        tags.append("老客户")
    customer.system_tags = tags
    return customer


def customer_recompute(
    *, tenant: Tenant, customer: Customer, settings_row: CustomerSettings | None = None, save: bool = True
) -> Customer:
    """Recompute the derived axes after an input changed (also run nightly for time-based ones)."""
    settings_row = settings_row or customer_settings_for(tenant=tenant)
    derive_axes(customer, settings_row=settings_row)
    if save and customer.pk:
        customer.save(update_fields=[*DERIVED_FIELDS, "updated_at"])
    return customer


def customers_due_for_recompute(
    *, settings_row: CustomerSettings, now: datetime.datetime
) -> QuerySet[Customer]:
    """Customers whose time-based axes (activity, follow-up status) are stale at ``now``.

    Every other axis is rewritten by the service that changes its input (``customer_recompute``),
    so only the passage of time leaves a stored axis behind: an active customer whose last touch
    (or creation, never touched) fell behind the silence cutoff, or a silent one whose last touch is
    back within it. Four plain comparisons, each an index range of ``cust_activity_touch_idx`` /
    ``cust_activity_untouched_idx``: the read is proportional to the rows that change.
    """
    cutoff = now - datetime.timedelta(days=settings_row.silent_after_days)
    return Customer.objects.filter(
        Q(activity=Activity.ACTIVE, last_touch_at__isnull=False, last_touch_at__lt=cutoff)
        | Q(activity=Activity.ACTIVE, last_touch_at__isnull=True, created_at__lt=cutoff)
        | Q(activity=Activity.SILENT, last_touch_at__isnull=False, last_touch_at__gte=cutoff)
        | Q(activity=Activity.SILENT, last_touch_at__isnull=True, created_at__gte=cutoff)
    )


def customers_recompute_due(
    *, tenant: Tenant, now: datetime.datetime | None = None, batch_size: int = 1000
) -> int:
    """Nightly: rewrite the customers time made silent/dormant (or active again); returns how many.

    Reads only :func:`customers_due_for_recompute` (cost ∝ changed rows, not tenant size); a
    change of the thresholds runs the full :func:`customers_recompute_all` instead.
    """
    now = now or timezone.now()
    settings_row = customer_settings_for(tenant=tenant)
    due = customers_due_for_recompute(settings_row=settings_row, now=now)
    changed = 0
    last_id = 0
    while True:
        batch = list(due.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if not batch:
            return changed
        for customer in batch:
            derive_axes(customer, settings_row=settings_row, now=now)
        Customer.objects.bulk_update(batch, DERIVED_FIELDS)
        changed += len(batch)
        last_id = batch[-1].pk


def customers_recompute_all(*, tenant: Tenant, batch_size: int = 1000) -> int:
    """Every customer (after the tenant changed its thresholds); rewrite only rows whose axes changed."""
    settings_row = customer_settings_for(tenant=tenant)
    changed = 0
    last_id = 0
    while True:
        batch = list(Customer.objects.filter(pk__gt=last_id).order_by("pk")[:batch_size])
        if not batch:
            return changed
        dirty = []
        for customer in batch:
            before = [getattr(customer, name) for name in DERIVED_FIELDS]
            derive_axes(customer, settings_row=settings_row)
            if before != [getattr(customer, name) for name in DERIVED_FIELDS]:
                dirty.append(customer)
        if dirty:
            Customer.objects.bulk_update(dirty, DERIVED_FIELDS)
            changed += len(dirty)
        last_id = batch[-1].pk
