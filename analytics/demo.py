"""Demo targets and channel spend, and a last pass that keeps the demo's story consistent.

Runs after every other app's demo (``crm.demo.DOMAIN_DEMO_MODULES`` order). Idempotent.
"""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from analytics.models import ChannelSpend, SalesTarget
from crm.models import Tenant, User
from crm.money import parse_yuan
from customers.models import Customer
from customers.services import follow_ups as customer_follow_ups

SPEND_BY_CHANNEL = {  # yuan per month
    "douyin": 18_000,
    "xiaohongshu": 9_000,
    "search_ads": 12_000,
    "home_expo": 15_000,
}


def _month_starts(today: datetime.date, count: int) -> list[datetime.date]:
    months, first = [], today.replace(day=1)
    for _ in range(count):
        months.append(first)
        first = (first - datetime.timedelta(days=1)).replace(day=1)
    return months


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    now = timezone.now()
    rng = random.Random(tenant.pk * 13)
    # Customers whose projects other demos opened came through sales: log the first call.
    for customer in Customer.objects.filter(projects__isnull=False, last_touch_at__isnull=True).distinct():
        customer_follow_ups.follow_up_create(
            tenant=tenant,
            customer=customer,
            author=customer.owner or staff.get("sales"),
            kind="call",
            content="电话沟通装修需求，约了上门量房。",
            outcome="appointment",
            occurred_at=(occurred := now - datetime.timedelta(days=rng.randint(3, 20))),
            now=occurred,  # seeded history: recorded when it happened
        )
    for month in _month_starts(timezone.localdate(), 12):
        for suffix, value in (("sales", 600_000), ("sales2", 450_000)):
            SalesTarget.objects.get_or_create(
                user=staff[suffix],
                month=month,
                defaults={
                    "tenant": tenant,
                    "contract_value_fen": parse_yuan(value),
                    "signed_count": 3,
                    "new_customers": 15,
                },
            )
        SalesTarget.objects.get_or_create(
            user=None,
            month=month,
            defaults={"tenant": tenant, "contract_value_fen": parse_yuan(1_200_000), "signed_count": 7},
        )
        for channel, amount_yuan in SPEND_BY_CHANNEL.items():
            ChannelSpend.objects.get_or_create(
                channel=channel,
                month=month,
                defaults={"tenant": tenant, "amount_fen": parse_yuan(amount_yuan)},
            )
