"""Reads for payment milestones: plans with paid / outstanding / overdue figures, in SQL."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import BigIntegerField, Count, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from payments.models import PaymentAllocation, PaymentMilestone, PaymentPlan, PaymentReceipt


def _paid_subquery(field: str) -> Subquery:
    return Subquery(
        PaymentAllocation.objects.filter(**{field: OuterRef("pk")})
        .order_by()
        .values(field)
        .annotate(total=Sum("amount_fen"))
        .values("total")[:1],
        output_field=BigIntegerField(),
    )


def plans_for_list(*, today: datetime.date) -> QuerySet[PaymentPlan]:
    """Every plan with its total, received, outstanding and overdue amount (one query)."""
    overdue_milestones = PaymentMilestone.objects.filter(plan=OuterRef("pk"), due_on__lt=today).annotate(
        paid=Coalesce(_paid_subquery("milestone"), Value(0))
    )
    overdue = Subquery(
        overdue_milestones.filter(amount_fen__gt=F("paid"))
        .order_by()
        .values("plan")
        .annotate(total=Sum(F("amount_fen") - F("paid")))
        .values("total")[:1],
        output_field=BigIntegerField(),
    )
    received = Subquery(
        PaymentAllocation.objects.filter(milestone__plan=OuterRef("pk"))
        .order_by()
        .values("milestone__plan")
        .annotate(total=Sum("amount_fen"))
        .values("total")[:1],
        output_field=BigIntegerField(),
    )
    return (
        PaymentPlan.objects.select_related("project", "customer")
        .annotate(
            total_amount_fen=F("contract_amount_fen") + F("adjustments_fen"),
            received_fen=Coalesce(received, Value(0)),
            overdue_fen=Coalesce(overdue, Value(0)),
        )
        .annotate(outstanding_fen=F("total_amount_fen") - F("received_fen"))
        .order_by("-overdue_fen", "-outstanding_fen", "-id")
    )


@dataclass
class MilestoneRow:
    milestone: PaymentMilestone
    paid_fen: int
    outstanding_fen: int
    overdue: bool


def milestones_with_paid() -> QuerySet[PaymentMilestone]:
    """Milestones with what was allocated to them; also the ``Prefetch`` queryset of plan lists."""
    return PaymentMilestone.objects.annotate(paid=Coalesce(_paid_subquery("milestone"), Value(0))).order_by(
        "position"
    )


def plan_milestones(*, plan: PaymentPlan, today: datetime.date) -> list[MilestoneRow]:
    """The plan's milestones with paid / outstanding / overdue; uses a ``milestones_with_paid`` prefetch
    when the plan came from a list (one query per page, not per plan)."""
    prefetched = getattr(plan, "_prefetched_objects_cache", {}).get("milestones")
    rows: Any = prefetched if prefetched is not None else milestones_with_paid().filter(plan=plan)
    return [
        MilestoneRow(
            milestone=row,
            paid_fen=row.paid,
            outstanding_fen=row.amount_fen - row.paid,
            overdue=row.due_on is not None and row.due_on < today and row.amount_fen > row.paid,
        )
        for row in rows
    ]


def plan_receipts(*, plan: PaymentPlan) -> QuerySet[PaymentReceipt]:
    return plan.receipts.select_related("recorded_by", "voided_by").order_by("-received_on", "-id")


def customer_lifetime_value_fen(*, customer_id: int) -> dict[str, int]:
    """What the customer has really paid (non-voided receipts) against what was contracted."""
    plans = PaymentPlan.objects.filter(customer_id=customer_id).aggregate(
        contracted=Coalesce(Sum(F("contract_amount_fen") + F("adjustments_fen")), Value(0)),
        plans=Count("id"),
    )
    paid = PaymentReceipt.objects.filter(plan__customer_id=customer_id, voided_at__isnull=True).aggregate(
        total=Coalesce(Sum("amount_fen"), Value(0))
    )
    return {"contracted_fen": plans["contracted"], "paid_fen": paid["total"], "plans": plans["plans"]}
