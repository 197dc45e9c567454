"""Synthetic lead history with a known signal, for the scoring tests, benchmark and demo.

``signal=True``: referral and home-expo leads and families with children sign far more often,
while the budget tier (what the rules rank by) carries no information — a model that learns the
history must beat the rules. ``signal=False``: every lead signs with the same probability.
"""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from crm.models import Tenant
from crm.money import parse_yuan
from customers.models import Customer, FollowUp, Lead
from projects.models import Project

SOURCES = [
    "website",
    "douyin",
    "xiaohongshu",
    "search_ads",
    "wechat",
    "home_expo",
    "referral",
    "store_walk_in",
]
TIERS = ["unknown", "low", "mid", "high"]
CITIES = ["上海", "杭州", "苏州", "南京"]


def _probability(*, source: str, has_children: bool, follow_ups: int, signal: bool) -> float:
    if not signal:
        return 0.2
    p = 0.06
    if source in ("referral", "home_expo"):
        p += 0.45
    if has_children:
        p += 0.15
    p += 0.04 * follow_ups
    return min(p, 0.95)


def generate_lead_history(
    *, tenant: Tenant, leads: int, signal: bool, days: int = 720, seed: int = 7, phone_prefix: str = "+86139"
) -> dict:
    """Insert ``leads`` customers, each with one lead, early follow-ups and (maybe) a signed project.

    Leads are spread evenly over the last ``days`` days; run inside ``tenant_context(tenant)``.
    """
    rng = random.Random(seed)
    now = timezone.now()
    customers, lead_rows, follow_ups, projects = [], [], [], []
    plan = []
    for index in range(leads):
        received_at = now - datetime.timedelta(days=days * (1 - index / leads), minutes=rng.randint(0, 600))
        source = rng.choice(SOURCES)
        has_children = rng.random() < 0.4
        tier = rng.choice(TIERS)
        touches = rng.randint(0, 3)
        signs = rng.random() < _probability(
            source=source, has_children=has_children, follow_ups=touches, signal=signal
        )
        customers.append(
            Customer(
                tenant=tenant,
                name=f"历史客户{index}",
                phone=f"{phone_prefix}{index:08d}",
                source_channel=source,
                budget_tier=tier,
                has_children=has_children,
                city=rng.choice(CITIES),
                area_sqm=rng.choice([60, 90, 120, 150]),
                created_at=received_at,
                # Every history lead was answered: contacted, not "waiting for first contact".
                follow_up_status="following"
                if now - received_at < datetime.timedelta(days=180)
                else "dormant",
            )
        )
        plan.append((received_at, source, touches, signs))
    Customer.objects.bulk_create(customers, batch_size=2000)
    for customer, (received_at, source, touches, signs) in zip(customers, plan, strict=True):
        # Most first responses inside a 15-minute SLA, a tail of breaches (like the real demo leads).
        response = rng.randint(60, 840) if rng.random() < 0.85 else rng.randint(1200, 7200)
        lead_rows.append(
            Lead(
                tenant=tenant,
                customer=customer,
                source_channel=source,
                received_at=received_at,
                clock_started_at=received_at,
                first_response_due_at=received_at + datetime.timedelta(minutes=15),
                pool_due_at=received_at + datetime.timedelta(hours=2),
                status="responded",
                first_responded_at=received_at + datetime.timedelta(seconds=response),
                response_seconds=response,
            )
        )
        for touch in range(touches):
            follow_ups.append(
                FollowUp(
                    tenant=tenant,
                    customer=customer,
                    kind="call",
                    content="电话沟通",
                    occurred_at=received_at + datetime.timedelta(days=touch + 1),
                )
            )
        signed_on = timezone.localdate(received_at) + datetime.timedelta(days=rng.randint(10, 80))
        if signs and signed_on <= timezone.localdate(now):
            projects.append(
                Project(
                    tenant=tenant,
                    customer=customer,
                    name=f"{customer.name}的家",
                    contract_number=f"H-{tenant.pk}-{phone_prefix[-3:]}-{customer.pk}",
                    contract_amount_fen=parse_yuan(rng.choice([120_000, 180_000, 260_000])),
                    signed_on=signed_on,
                )
            )
    Lead.objects.bulk_create(lead_rows, batch_size=2000)
    FollowUp.objects.bulk_create(follow_ups, batch_size=2000)
    Project.objects.bulk_create(projects, batch_size=2000)
    return {"leads": len(lead_rows), "signed": len(projects)}
