"""Benchmark the filtered, paginated customer list and the SLA breach scan at size.

    TEST_DATABASE_NAME=test_crm_bench .venv/bin/python benchmarks/customers_list.py \
        --tenants 100 --customers 10000 [--requests 200] [--keep]

The issue's size is 100 tenants x 10,000 customers (1,000,000 customers) with follow-ups and
leads. Uses the test settings (real PostgreSQL as the non-superuser app role, so RLS applies),
creates ``<TEST_DATABASE_NAME>_bench``, loads it with bulk inserts, ANALYZEs, then measures:

* the browser list ``/customers/?<filters>&page=N`` and the API ``/api/v1/customers/?<filters>``
  through the whole Django stack (middleware, tenant context + RLS, filters, template/serializer);
* ``lead_sla_scan`` per tenant with ~2% of leads overdue, and again when nothing is due.

Prints p50/p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.test")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

FILTERS = [
    {"budget_tier": "high", "customer_type": "second_hand"},
    {"lifecycle": "lead", "activity": "silent"},
    {"q": "花园"},
    {"source_channel": ["douyin", "xiaohongshu"], "has_children": "true"},
    {"style": "nordic", "budget_min": "200000"},
    {},
]


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def load(tenants: int, customers: int, seed: int = 7) -> list:
    from crm.models import Role, Tenant, User
    from crm.tenancy import tenant_context
    from customers.models import Customer, FollowUp, Lead

    rng = random.Random(seed)
    now = datetime.datetime.now(datetime.UTC)
    communities = ["万科城市花园", "绿地海珀", "保利香槟国际", "龙湖春江郦城", "碧桂园凤凰城", "中海寰宇天下"]
    channels = ["douyin", "xiaohongshu", "website", "wechat", "store_walk_in", "referral"]
    styles = [["modern"], ["nordic"], ["new_chinese"], ["minimalist", "japanese"], ["light_luxury"]]
    made = []
    started = time.perf_counter()
    for t in range(tenants):
        tenant = Tenant.objects.create(name=f"基准公司{t}", slug=f"bench-{t}")
        staff = [
            User.objects.create(username=f"bench{t}_s{i}", tenant=tenant, roles=[Role.SALES])
            for i in range(5)
        ]
        manager = User.objects.create(username=f"bench{t}_m", tenant=tenant, roles=[Role.MANAGER])
        with tenant_context(tenant):
            rows = []
            for i in range(customers):
                budget = rng.choice([None, 60_000, 150_000, 250_000, 400_000, 800_000])
                created = now - datetime.timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 1440))
                rows.append(
                    Customer(
                        tenant=tenant,
                        name=f"客户{i}",
                        phone=f"+86138{t:03d}{i:05d}",
                        community=rng.choice(communities),
                        source_channel=rng.choice(channels),
                        customer_type=rng.choice(["new_house", "second_hand", "commercial"]),
                        budget_amount=budget,
                        budget_tier="unknown"
                        if budget is None
                        else ("low" if budget < 100_000 else "high" if budget >= 300_000 else "mid"),
                        lifecycle=rng.choice(
                            ["lead", "lead", "measured", "designing", "signed", "handed_over"]
                        ),
                        activity=rng.choice(["active", "silent"]),
                        has_children=rng.random() < 0.4,
                        style_preferences=rng.choice(styles),
                        owner=rng.choice(staff),
                        designer=None,
                        last_touch_at=created + datetime.timedelta(days=1),
                    )
                )
            Customer.objects.bulk_create(rows, batch_size=2000)
            ids = [c.pk for c in rows]
            follow_ups = [
                FollowUp(
                    tenant=tenant,
                    customer_id=cid,
                    author=rng.choice(staff),
                    kind="call",
                    content="电话沟通装修需求",
                    occurred_at=now - datetime.timedelta(days=rng.randint(0, 300)),
                )
                for cid in ids
                for _ in range(rng.choice([0, 1, 2]))
            ]
            FollowUp.objects.bulk_create(follow_ups, batch_size=5000)
            leads = []
            for cid in rng.sample(ids, max(1, customers // 10)):
                received = now - datetime.timedelta(days=rng.randint(1, 300))
                leads.append(
                    Lead(
                        tenant=tenant,
                        customer_id=cid,
                        source_channel=rng.choice(channels),
                        received_at=received,
                        clock_started_at=received,
                        first_response_due_at=received + datetime.timedelta(minutes=15),
                        pool_due_at=received + datetime.timedelta(hours=2),
                        status="responded",
                        assignee=rng.choice(staff),
                        first_responded_at=received + datetime.timedelta(minutes=rng.randint(1, 40)),
                        response_seconds=rng.randint(60, 2400),
                    )
                )
            for cid in rng.sample(ids, max(1, customers // 50)):  # overdue, unanswered
                received = now - datetime.timedelta(minutes=rng.randint(16, 100))
                leads.append(
                    Lead(
                        tenant=tenant,
                        customer_id=cid,
                        source_channel=rng.choice(channels),
                        received_at=received,
                        clock_started_at=received,
                        first_response_due_at=received + datetime.timedelta(minutes=15),
                        pool_due_at=received + datetime.timedelta(hours=10),
                        assignee=rng.choice(staff),
                    )
                )
            Lead.objects.bulk_create(leads, batch_size=5000)
        made.append((tenant, manager))
        if (t + 1) % 10 == 0:
            print(f"  loaded {t + 1}/{tenants} tenants ({time.perf_counter() - started:.0f} s)", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return made


def measure(made: list, requests: int) -> None:
    from django.test import Client
    from django.test.utils import setup_test_environment

    from crm.tenancy import tenant_context
    from customers import services
    from customers.models import Customer

    setup_test_environment()
    rng = random.Random(1)
    html, api = [], []
    clients = {}
    for _ in range(requests):
        tenant, manager = rng.choice(made)
        client = clients.get(tenant.pk)
        if client is None:
            client = clients[tenant.pk] = Client()
            client.force_login(manager, backend="django.contrib.auth.backends.ModelBackend")
        params = dict(rng.choice(FILTERS))
        params["page"] = rng.randint(1, 3)
        started = time.perf_counter()
        response = client.get("/customers/", params)
        html.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
        params["page_size"] = 25
        started = time.perf_counter()
        response = client.get("/api/v1/customers/", params)
        api.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 404), response.status_code  # 404: page past the end
    for label, values in (("page (HTML)", html), ("API (JSON)", api)):
        p50, p95 = pct(values, 0.5), pct(values, 0.95)
        print(f"customer list {label}, {requests} requests: p50 {p50:.1f} ms, p95 {p95:.1f} ms")

    scans, idle, breached = [], [], 0
    for tenant, _manager in made:
        started = time.perf_counter()
        with tenant_context(tenant):
            breached += services.lead_sla_scan(tenant=tenant)
        scans.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        with tenant_context(tenant):
            services.lead_sla_scan(tenant=tenant)
        idle.append((time.perf_counter() - started) * 1000)
    print(
        f"breach scan per tenant with due leads ({breached} breaches over {len(made)} tenants): "
        f"p50 {pct(scans, 0.5):.1f} ms, p95 {pct(scans, 0.95):.1f} ms, total {sum(scans) / 1000:.1f} s"
    )
    print(f"breach scan per tenant, nothing due: p50 {pct(idle, 0.5):.2f} ms, p95 {pct(idle, 0.95):.2f} ms")
    with tenant_context(made[0][0]):
        count = Customer.objects.count()
    print(f"(tenant 0 holds {count} customers; mean API {statistics.mean(api):.1f} ms)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['TEST']['NAME']}_bench"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        started = time.perf_counter()
        made = load(args.tenants, args.customers)
        print(
            f"loaded {args.tenants} tenants x {args.customers} customers (+ follow-ups, leads) "
            f"in {time.perf_counter() - started:.0f} s"
        )
        measure(made, args.requests)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
