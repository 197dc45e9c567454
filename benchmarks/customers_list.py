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
    {"style": "nordic", "budget_min_fen": "20000000"},
    {},
]


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _insert_select(model, *, tenant_id: int, source: str, overrides: dict[str, str]) -> int:
    """``INSERT INTO <model> SELECT ...`` generated server-side (fast for a million rows).

    Columns not in ``overrides`` get the model default, cast to the column type; ``source`` is the
    FROM clause (e.g. ``generate_series(1, 10000) AS g(i)``).
    """
    import json

    from django.db import models as m

    columns, selects, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(f'"{field.column}"')
        db_type = field.db_type(connection)
        if field.name in overrides:
            selects.append(f"({overrides[field.name]})::{db_type}".replace("%", "%%"))
        elif field.name == "tenant":
            selects.append(f"{int(tenant_id)}::bigint")
        elif isinstance(field, m.DateTimeField) and (field.auto_now or field.auto_now_add):
            selects.append("now()")
        else:
            value = field.get_default()
            if isinstance(field, m.JSONField):
                value = json.dumps(value)
            selects.append(f"%s::{db_type}")
            params.append(value)
    table, source = model._meta.db_table, source.replace("%", "%%")
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(selects)} FROM {source}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


LIFECYCLES = ["lead", "lead", "measured", "designing", "signed", "handed_over"]


def _pick(values: list, key: str) -> str:
    """SQL that picks one of ``values`` by an integer expression ``key``."""
    quoted = ", ".join("NULL" if v is None else (str(v) if isinstance(v, int) else f"'{v}'") for v in values)
    return f"(ARRAY[{quoted}])[1 + (({key}) % {len(values)})]"


def load(tenants: int, customers: int) -> list:
    from crm.models import Role, Tenant, User
    from crm.tenancy import tenant_context
    from customers.models import Customer, FollowUp, Lead

    communities = ["万科城市花园", "绿地海珀", "保利香槟国际", "龙湖春江郦城", "碧桂园凤凰城", "中海寰宇天下"]
    channels = ["douyin", "xiaohongshu", "website", "wechat", "store_walk_in", "referral"]
    styles = ['["modern"]', '["nordic"]', '["new_chinese"]', '["minimalist", "japanese"]', '["light_luxury"]']
    made = []
    started = time.perf_counter()
    for t in range(tenants):
        tenant = Tenant.objects.create(name=f"基准公司{t}", slug=f"bench-{t}")
        staff = [
            User.objects.create(username=f"bench{t}_s{i}", tenant=tenant, roles=[Role.SALES])
            for i in range(5)
        ]
        manager = User.objects.create(username=f"bench{t}_m", tenant=tenant, roles=[Role.MANAGER])
        staff_ids = [user.pk for user in staff]
        budget = _pick([None, 6_000_000, 15_000_000, 25_000_000, 40_000_000, 80_000_000], "g.i * 7 + 3")
        with tenant_context(tenant):
            _insert_select(
                Customer,
                tenant_id=tenant.pk,
                source=f"generate_series(1, {int(customers)}) AS g(i)",
                overrides={
                    "name": "'客户' || g.i",
                    "phone": f"'+86138' || lpad('{t}', 3, '0') || lpad(g.i::text, 5, '0')",
                    "community": _pick(communities, "g.i * 13"),
                    "source_channel": _pick(channels, "g.i * 5"),
                    "customer_type": _pick(["new_house", "second_hand", "commercial"], "g.i * 11"),
                    "budget_fen": budget,
                    "budget_tier": f"CASE WHEN {budget} IS NULL THEN 'unknown' "
                    f"WHEN {budget} < 10000000 THEN 'low' "
                    f"WHEN {budget} >= 30000000 THEN 'high' ELSE 'mid' END",
                    "lifecycle": _pick(
                        ["lead", "lead", "measured", "designing", "signed", "handed_over"], "g.i * 17"
                    ),
                    "activity": _pick(["active", "silent"], "g.i * 19 / 7"),
                    "has_children": "(g.i * 23) % 5 < 2",
                    "style_preferences": _pick(styles, "g.i * 29"),
                    "owner": _pick(staff_ids, "g.i * 31"),
                    "created_at": "now() - ((g.i * 37) % 700) * interval '1 day'",
                    "last_touch_at": "now() - ((g.i * 41) % 90) * interval '1 day'",
                },
            )
            customer_table = Customer._meta.db_table
            _insert_select(
                FollowUp,
                tenant_id=tenant.pk,
                source=f"{customer_table} c CROSS JOIN generate_series(1, 2) AS k(n) "
                f"WHERE c.tenant_id = {tenant.pk} AND (c.id + k.n) % 3 <> 0",
                overrides={
                    "customer": "c.id",
                    "author": _pick(staff_ids, "c.id + k.n"),
                    "kind": "'call'",
                    "content": "'电话沟通装修需求'",
                    "occurred_at": "now() - ((c.id * 7 + k.n) % 300) * interval '1 day'",
                },
            )
            received = "now() - ((c.id * 11) % 300) * interval '1 day'"
            _insert_select(
                Lead,
                tenant_id=tenant.pk,
                source=f"{customer_table} c WHERE c.tenant_id = {tenant.pk} AND c.id % 10 = 0",
                overrides={
                    "customer": "c.id",
                    "source_channel": "c.source_channel",
                    "received_at": received,
                    "clock_started_at": received,
                    "first_response_due_at": f"{received} + interval '15 minutes'",
                    "pool_due_at": f"{received} + interval '2 hours'",
                    "status": "'responded'",
                    "assignee": "c.owner_id",
                    "first_responder": "c.owner_id",
                    "response_seconds": "60 + (c.id * 97) % 2400",
                    "first_responded_at": f"{received} + (60 + (c.id * 97) % 2400) * interval '1 second'",
                    "sla_breached": "(60 + (c.id * 97) % 2400) > 900",
                },
            )
            overdue = "now() - (16 + c.id % 80) * interval '1 minute'"
            _insert_select(
                Lead,
                tenant_id=tenant.pk,
                source=f"{customer_table} c WHERE c.tenant_id = {tenant.pk} AND c.id % 50 = 1",
                overrides={
                    "customer": "c.id",
                    "source_channel": "c.source_channel",
                    "received_at": overdue,
                    "clock_started_at": overdue,
                    "first_response_due_at": f"{overdue} + interval '15 minutes'",
                    "pool_due_at": f"{overdue} + interval '10 hours'",
                    "assignee": "c.owner_id",
                },
            )
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
    from customers.models import Customer
    from customers.services import leads

    setup_test_environment()
    rng = random.Random(1)
    html, api = [], []
    clients = {}
    for _ in range(requests):
        tenant, manager = rng.choice(made)
        client = clients.get(tenant.pk)
        if client is None:
            client = clients[tenant.pk] = Client()
            client.force_login(manager, backend="crm.backends.TenantUserBackend")
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
            breached += leads.lead_sla_scan(tenant=tenant)
        scans.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        with tenant_context(tenant):
            leads.lead_sla_scan(tenant=tenant)
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
