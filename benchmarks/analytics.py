"""Benchmark the managers' dashboard ("this year") and each role workbench on a large tenant.

    TEST_DATABASE_NAME=crm_bench .venv/bin/python benchmarks/analytics.py \
        --customers 50000 --projects 10000 --tenants 100 [--small-customers 500] [--runs 5] [--keep]

The issue's size: the largest tenant has 50,000 customers and 10,000 projects, in a database of 100
tenants. Uses the test settings (real PostgreSQL as the non-superuser app role, so RLS applies) and
creates a separate database ``<TEST_DATABASE_NAME>_analytics``, loaded with server-side bulk
``INSERT … SELECT`` (customers, follow-ups, leads, projects with stage history, change orders,
maintenance plans, tickets, surveys), then ANALYZEd. Measures whole requests through the Django
stack (middleware, tenant context + RLS, selectors, template): ``/dashboard/?range=this_year`` as a
manager and ``/`` (the workbench) as sales, project manager, service and manager. Prints the
median and max server time in milliseconds and the number of SQL queries per request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.test")

import django  # noqa: E402

django.setup()

from customers_list import _insert_select, _pick  # noqa: E402
from django.db import connection  # noqa: E402

CHANNELS = ["douyin", "xiaohongshu", "website", "wechat", "store_walk_in", "referral", "home_expo"]
STAGES = ["consultation", "design", "quotation", "contract_signed", "demolition", "plumbing_electrical",
          "masonry", "carpentry", "painting", "installation", "handover"]  # fmt: skip


def load_tenant(index: int, customers: int, projects: int) -> dict:
    from aftercare.models import MaintenancePlan, PlanKind, ServiceTicket, Survey
    from crm.models import Role, Tenant, User
    from crm.tenancy import tenant_context
    from customers.models import Customer, FollowUp, Lead
    from projects.models import ChangeOrder, Project, StageHistory

    tenant = Tenant.objects.create(name=f"基准公司{index}", slug=f"bench-analytics-{index}")
    sales = [
        User.objects.create(username=f"ba{index}_s{i}", tenant=tenant, roles=[Role.SALES]) for i in range(8)
    ]
    pms = [
        User.objects.create(username=f"ba{index}_pm{i}", tenant=tenant, roles=[Role.PROJECT_MANAGER])
        for i in range(6)
    ]
    service = User.objects.create(username=f"ba{index}_cs", tenant=tenant, roles=[Role.SERVICE])
    manager = User.objects.create(username=f"ba{index}_m", tenant=tenant, roles=[Role.MANAGER])
    sales_ids, pm_ids = [u.pk for u in sales], [u.pk for u in pms]
    t = tenant.pk
    step = max(1, customers // max(projects, 1))
    with tenant_context(tenant):
        created = "now() - ((g.i * 37) % 400) * interval '1 day' - ((g.i * 13) % 1440) * interval '1 minute'"
        _insert_select(
            Customer,
            tenant_id=t,
            source=f"generate_series(1, {int(customers)}) AS g(i)",
            overrides={
                "name": "'客户' || g.i",
                "phone": f"'+86139' || lpad('{index}', 3, '0') || lpad(g.i::text, 5, '0')",
                "source_channel": _pick(CHANNELS, "g.i * 5"),
                "customer_type": _pick(["new_house", "second_hand", "commercial"], "g.i * 11"),
                "budget_tier": _pick(["unknown", "low", "mid", "high"], "g.i * 7"),
                "lifecycle": _pick(
                    ["lead", "lead", "measured", "designing", "signed", "handed_over"], "g.i * 17"
                ),
                "activity": _pick(["active", "silent"], "g.i * 19 / 7"),
                "style_preferences": _pick(
                    ['["modern"]', '["nordic"]', '["new_chinese", "japanese"]'], "g.i * 29"
                ),
                "city": "'上海'",
                "district": _pick(["浦东新区", "徐汇区", "闵行区", "静安区"], "g.i * 3"),
                "owner": _pick(sales_ids, "g.i * 31"),
                "created_at": created,
                "last_touch_at": f"{created} + interval '9 minutes'",
                "measured_at": f"CASE WHEN g.i % 3 = 0 THEN {created} + interval '3 days' END",
                "contract_total_fen": f"CASE WHEN g.i % {step} = 0 THEN 200000 ELSE 0 END",
            },
        )
        table = Customer._meta.db_table
        customers_sql = f"{table} c WHERE c.tenant_id = {t}"
        _insert_select(
            FollowUp,
            tenant_id=t,
            source=customers_sql,
            overrides={
                "customer": "c.id",
                "author": "c.owner_id",
                "kind": "'call'",
                "content": "'电话沟通'",
                "occurred_at": "c.last_touch_at",
                "next_follow_up_at": "c.last_touch_at + ((c.id % 20) * interval '1 day')",
            },
        )
        _insert_select(
            Lead,
            tenant_id=t,
            source=customers_sql,
            overrides={
                "customer": "c.id",
                "source_channel": "c.source_channel",
                "received_at": "c.created_at",
                "clock_started_at": "c.created_at",
                "first_response_due_at": "c.created_at + interval '15 minutes'",
                "pool_due_at": "c.created_at + interval '2 hours'",
                "status": "CASE WHEN c.id % 97 = 0 THEN 'open' ELSE 'responded' END",
                "assignee": "c.owner_id",
                "response_seconds": "CASE WHEN c.id % 97 = 0 THEN NULL ELSE 60 + (c.id * 97) % 1800 END",
                "first_responded_at": "CASE WHEN c.id % 97 = 0 THEN NULL "
                "ELSE c.created_at + (60 + (c.id * 97) % 1800) * interval '1 second' END",
                "sla_breached": "(60 + (c.id * 97) % 1800) > 900",
            },
        )
        project_customers = f"{customers_sql} AND c.id % {step} = 0"
        _insert_select(
            Project,
            tenant_id=t,
            source=f"(SELECT c.*, row_number() OVER (ORDER BY c.id) AS n FROM {project_customers}) c "
            f"WHERE c.n <= {int(projects)}",
            overrides={
                "customer": "c.id",
                "name": "'项目' || c.id",
                "stage": _pick(STAGES, "c.id * 7"),
                "stage_entered_at": "now() - ((c.id * 11) % 60) * interval '1 day'",
                "project_manager": _pick(pm_ids, "c.id * 3"),
                "signed_on": "(c.created_at + interval '20 days')::date",
                "contract_number": "'HT-' || c.id",
                "contract_amount_fen": "20000000",
                "handed_over_on": f"CASE WHEN {_pick(STAGES, 'c.id * 7')} = 'handover' "
                "THEN (c.created_at + interval '120 days')::date END",
            },
        )
        projects_sql = f"{Project._meta.db_table} p WHERE p.tenant_id = {t}"
        _insert_select(
            StageHistory,
            tenant_id=t,
            source=f"{projects_sql}",
            overrides={
                "project": "p.id",
                "from_stage": "''",
                "to_stage": "p.stage",
                "changed_at": "p.stage_entered_at",
            },
        )
        _insert_select(
            ChangeOrder,
            tenant_id=t,
            source=f"{projects_sql} AND p.id % 4 = 0",
            overrides={
                "project": "p.id",
                "number": "1",
                "title": "'加插座'",
                "reason": "'业主要求'",
                "status": _pick(["approved", "sent", "draft"], "p.id"),
                "amount_delta_fen": "500000",
                "decided_at": "p.stage_entered_at",
            },
        )
        kind = PlanKind.objects.create(tenant=tenant, code="y1", name="一年回访", months_after_handover=12)
        _insert_select(
            MaintenancePlan,
            tenant_id=t,
            source=f"{projects_sql} AND p.handed_over_on IS NOT NULL",
            overrides={
                "project": "p.id",
                "customer": "p.customer_id",
                "kind": str(kind.pk),
                "due_on": "(now() + ((p.id % 90) - 30) * interval '1 day')::date",
                "assigned_to": str(service.pk),
            },
        )
        _insert_select(
            ServiceTicket,
            tenant_id=t,
            source=f"{projects_sql} AND p.id % 5 = 0",
            overrides={
                "project": "p.id",
                "customer": "p.customer_id",
                "category": "'plumbing'",
                "description": "'漏水'",
                "status": _pick(["open", "assigned", "resolved", "closed"], "p.id"),
                "assigned_to": str(service.pk),
                "under_warranty": "p.id % 3 <> 0",
                "first_response_due_at": "now() + ((p.id % 48) - 24) * interval '1 hour'",
                "resolution_due_at": "now() + ((p.id % 96) - 24) * interval '1 hour'",
            },
        )
        _insert_select(
            Survey,
            tenant_id=t,
            source=f"{projects_sql} AND p.id % 2 = 0",
            overrides={
                "customer": "p.customer_id",
                "project": "p.id",
                "kind": "CASE WHEN p.id % 4 = 0 THEN 'nps' ELSE 'csat' END",
                "trigger": _pick(["handover", "visit", "design_approval", "yearly"], "p.id"),
                "token": "'tok' || p.id",
                "dedupe_key": "'dd' || p.id",
                "expires_at": "now() + interval '14 days'",
                "score": "CASE WHEN p.id % 4 = 0 THEN p.id % 11 ELSE 1 + p.id % 5 END",
                "answered_at": "p.stage_entered_at",
            },
        )
    return {"tenant": tenant, "manager": manager, "sales": sales[0], "pm": pms[0], "service": service}


def measure(users: dict, runs: int) -> None:
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    targets = [
        ("dashboard, this year, computed", users["manager"], "/dashboard/?range=this_year&refresh=1"),
        ("dashboard, this year, cached", users["manager"], "/dashboard/?range=this_year"),
        ("workbench: manager", users["manager"], "/"),
        ("workbench: sales", users["sales"], "/"),
        ("workbench: project manager", users["pm"], "/"),
        ("workbench: service", users["service"], "/"),
    ]
    for label, user, url in targets:
        client = Client()
        client.force_login(user, backend="crm.backends.TenantUserBackend")
        client.get(url)  # warm-up (connection, templates)
        times, queries = [], 0
        for _ in range(runs):
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (url, response.status_code)
            queries = len(captured)
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"{label:34s} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
            f"max {max(times):7.1f} ms  {queries} queries  load {os.getloadavg()[0]:.2f}"
        )
    from analytics import selectors
    from analytics.scope import parse_scope
    from crm.tenancy import tenant_context

    tenant = users["tenant"]
    with tenant_context(tenant):
        scope = parse_scope({"range": "this_year"}, tenant=tenant, user=users["manager"])
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('jit', 'off', true)")  # as analytics.cache does
        for key in selectors.PANELS:
            started = time.perf_counter()
            selectors.panel_data(key, scope)
            print(f"  panel {key:16s} {(time.perf_counter() - started) * 1000:7.1f} ms")


def _reuse_database() -> bool:
    """Point the connection at a kept benchmark database and migrate it; ``False`` if none exists."""
    from django.core.management import call_command

    name = connection.settings_dict["TEST"]["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        exists = cursor.fetchone() is not None
    if not exists:
        return False
    connection.close()
    connection.settings_dict["NAME"] = name
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # data migrations leave dead tuples and stale statistics
    return True


def _large_tenant_users() -> dict:
    from crm.models import Tenant, User

    tenant = Tenant.objects.get(slug="bench-analytics-0")
    users = {u.username: u for u in User.objects.filter(tenant=tenant)}
    return {
        "tenant": tenant,
        "manager": users["ba0_m"],
        "sales": users["ba0_s0"],
        "pm": users["ba0_pm0"],
        "service": users["ba0_cs"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=50_000, help="customers of the large tenant")
    parser.add_argument("--projects", type=int, default=10_000, help="projects of the large tenant")
    parser.add_argument("--tenants", type=int, default=100, help="tenants in the database (one large)")
    parser.add_argument("--small-customers", type=int, default=500, help="customers of each other tenant")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--reuse", action="store_true", help="measure a kept database again (migrated, not reloaded)"
    )
    args = parser.parse_args()
    connection.settings_dict["TEST"]["NAME"] = f"{connection.settings_dict['TEST']['NAME']}_analytics"
    if args.reuse and _reuse_database():
        measure(_large_tenant_users(), args.runs)
        return 0
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        started = time.perf_counter()
        large = load_tenant(0, args.customers, args.projects)
        for index in range(1, args.tenants):
            load_tenant(index, args.small_customers, args.small_customers // 5)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")  # statistics and the visibility map (index-only scans)
        print(
            f"loaded 1 tenant x {args.customers} customers / {args.projects} projects + {args.tenants - 1} "
            f"tenants x {args.small_customers} customers in {time.perf_counter() - started:.0f} s"
        )
        measure(large, args.runs)
    finally:
        if not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
