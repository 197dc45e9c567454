"""Every performance target of issue 12, measured side by side with its raw-SQL limit.

    .venv/bin/python benchmarks/run.py [--tenants 100] [--customers 10000] [--big 100000]
                                       [--requests 200] [--reload] [--no-http] [--scan-tenants 5]
    .venv/bin/python benchmarks/run.py --only pages [--requests 60]   # the three page lines alone

Runs against its own database ``crm_bench`` (created, migrated and loaded on first use with bulk
``INSERT … SELECT`` generated server-side — deterministic rows, times relative to the load; kept
for later runs, ``--reload`` rebuilds it) as the non-superuser role ``crm``, so RLS applies.
Default size: 100 tenants × 10,000 customers (+ follow-ups, leads), plus one tenant of
``--big`` customers for search. Each line prints p50/p95 of this project, p50/p95 of the
hand-written limit measured interleaved on the same connection, the ratio, SQL statements per
request and the load average. ``--no-http`` skips the gunicorn throughput run (wrk).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "crm_bench")
BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://crm:crm@127.0.0.1:5432/postgres")
DB_URL = BASE_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings.test"
os.environ["TEST_DATABASE_URL"] = DB_URL
os.environ.setdefault("TEST_REDIS_URL", REDIS_URL)

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from benchmarks.customers_list import load  # noqa: E402

TARGETS = {"api": 2.5, "html": 4.0}  # lead inbox and the detail pages: benchmarks/pages.py (3×)


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def loadavg() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def ensure_database(args) -> bool:
    """Create and migrate ``crm_bench`` when missing; ``True`` when it must be loaded."""
    import psycopg

    with psycopg.connect(BASE_URL, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if exists and args.reload:
            admin.execute(f'DROP DATABASE "{BENCH_DB}" WITH (FORCE)')
            exists = None
        if not exists:
            admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from crm.models import Tenant

    return not Tenant.objects.filter(slug="bench-0").exists()


def load_big(customers: int):
    """One large tenant for search and deep pages (``bench-big``)."""
    from benchmarks.customers_list import _insert_select, _pick
    from crm.models import Role, Tenant, User
    from crm.tenancy import tenant_context
    from customers.models import Customer

    tenant = Tenant.objects.create(name="基准大公司", slug="bench-big")
    owner = User.objects.create(username="benchbig_s", tenant=tenant, roles=[Role.SALES])
    User.objects.create(username="benchbig_m", tenant=tenant, roles=[Role.MANAGER])
    communities = ["万科城市花园", "绿地海珀", "保利香槟国际", "龙湖春江郦城", "碧桂园凤凰城", "中海寰宇天下"]
    with tenant_context(tenant):
        _insert_select(
            Customer,
            tenant_id=tenant.pk,
            source=f"generate_series(1, {int(customers)}) AS g(i)",
            overrides={
                "name": "'大客户' || g.i",
                "phone": "'+86139' || lpad(g.i::text, 8, '0')",
                "community": _pick(communities, "g.i * 13") + " || (g.i % 97)::text || '期'",
                "owner": str(owner.pk),
                "budget_fen": "(50000 + (g.i * 7919) % 900000) * 100",
                "created_at": "now() - ((g.i * 37) % 700) * interval '1 day'",
            },
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --------------------------------------------------------------------------- the raw limits


def raw_json(sql: str, params: list, tenant_id: int) -> bytes:
    """The physical limit: one transaction, the tenant setting, ONE statement, rows -> JSON."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        cursor.execute("COMMIT")
    return json.dumps({"results": rows}, default=str, ensure_ascii=False).encode()


def raw_html(sql: str, params: list, tenant_id: int) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        cursor.execute("COMMIT")
    cells = "".join("<tr>" + "".join(f"<td>{value}</td>" for value in row[:12]) + "</tr>" for row in rows)
    return f"<html><body><table>{cells}</table></body></html>".encode()


def page_sql(tenant, user, params: dict) -> tuple[str, list]:
    """The page statement the API list sends for ``params`` (captured from one real request)."""
    client = Client()
    captured_sql: list[tuple[str, list]] = []

    def capture(execute, sql, sql_params, many, context):
        if "customers_customer" in sql and sql.lstrip().upper().startswith("SELECT"):
            captured_sql.append((sql, list(sql_params or [])))
        return execute(sql, sql_params, many, context)

    with connection.execute_wrapper(capture):
        client.get("/api/v1/customers/", params, HTTP_AUTHORIZATION=f"Token {user}")
    return captured_sql[-1]


# --------------------------------------------------------------------------- measurements


def interleaved(label: str, project, limit, requests: int, target: float | None, statements: int | None):
    mine, raw = [], []
    for _ in range(3):
        project()
        limit()
    for _ in range(requests):
        started = time.perf_counter()
        project()
        mine.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        limit()
        raw.append((time.perf_counter() - started) * 1000)
    p50, p95, l50, l95 = pct(mine, 0.5), pct(mine, 0.95), pct(raw, 0.5), pct(raw, 0.95)
    ratio = f"{p50 / l50:.1f}× / {p95 / l95:.1f}×"
    verdict = ""
    if target is not None:
        verdict = " OK" if max(p50 / l50, p95 / l95) <= target else f" MISS (target ≤ {target}×)"
    sql = f", {statements} SQL/request" if statements is not None else ""
    print(
        f"{label:<44} {p50:6.2f} / {p95:6.2f} ms | limit {l50:5.2f} / {l95:5.2f} ms | "
        f"ratio {ratio}{verdict}{sql} | {loadavg()}",
        flush=True,
    )
    if target is not None:
        print(
            f"TARGET {label}: ratio p50 {p50 / l50:.2f}× / p95 {p95 / l95:.2f}× vs ≤ {target}×:{verdict}",
            flush=True,
        )
    return p50, p95


def count_statements(fn) -> int:
    fn()
    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def explain(title: str, sql: str, params: list | None, tenant_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant_id)])
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, SUMMARY ON) " + sql, params)
        plan = [row[0] for row in cursor.fetchall()]
        cursor.execute("ROLLBACK")
    print(f"  EXPLAIN {title}:")
    for line in plan:
        print(f"    {line}")


def token_for(user) -> str:
    from crm.models import ApiToken, hash_token
    from crm.tenancy import tenant_context

    plaintext, prefix = ApiToken.generate()
    with tenant_context(user.tenant):
        ApiToken.objects.create(
            tenant=user.tenant, name="bench", user=user, prefix=prefix, key_hash=hash_token(plaintext)
        )
    return plaintext


def measure_lists(requests: int) -> dict:
    from crm.models import Role, Tenant, User
    from crm.tenancy import tenant_context
    from customers.models import Customer

    tenant = Tenant.objects.get(slug="bench-0")
    manager = User.objects.filter(tenant=tenant, roles__contains=[Role.MANAGER]).first()
    plaintext = token_for(manager)
    api = Client(HTTP_AUTHORIZATION=f"Token {plaintext}")
    html = Client()
    html.force_login(manager, backend="crm.backends.TenantUserBackend")
    results = {}

    cases = [
        ("API list, default page", {}),
        (
            "API list, filtered + searched + ordered",
            {"budget_tier": "high", "q": "花园", "ordering": "-budget_fen"},
        ),
    ]
    for label, params in cases:
        sql, sql_params = page_sql(tenant, plaintext, params)
        n = count_statements(lambda p=params: api.get("/api/v1/customers/", p))
        results[label] = interleaved(
            label,
            lambda p=params: api.get("/api/v1/customers/", p),
            lambda s=sql, sp=sql_params: raw_json(s, sp, tenant.pk),
            requests,
            TARGETS["api"],
            n,
        )
        explain(label, sql, sql_params, tenant.pk)

    # Page 400 (rows 9,976–10,000 of the tenant): the cursor of row 9,975 in the list's order.
    with tenant_context(tenant):
        position = Customer.objects.order_by("-created_at", "-id").values_list("created_at", "id")[
            399 * 25 - 1
        ]
    from crm.api.pagination import KeysetPagination

    pager = KeysetPagination()
    pager.order = ["-created_at", "-pk"]
    pager.base_url = "http://testserver/api/v1/customers/"
    deep_url = pager._link(list(position), reverse=False)
    sql, sql_params = page_sql(tenant, plaintext, {"cursor": deep_url.split("cursor=")[1]})
    n = count_statements(lambda: api.get(deep_url))
    results["API list, page 400"] = interleaved(
        "API list, page 400 (keyset)",
        lambda: api.get(deep_url),
        lambda: raw_json(sql, sql_params, tenant.pk),
        requests,
        None,
        n,
    )
    page1 = results["API list, default page"][0]
    deep = results["API list, page 400"][0]
    verdict = "OK" if deep <= 1.5 * page1 else "MISS"
    print(f"{'page 400 / page 1 (p50)':<44} {deep / page1:.2f}× {verdict} (target ≤ 1.5×)")
    print(f"TARGET API list page 400: p50 {deep:.2f} ms = {deep / page1:.2f}× page 1 vs ≤ 1.5×: {verdict}")

    html_sql, html_params = page_sql(tenant, plaintext, {})
    n = count_statements(lambda: html.get("/customers/"))
    results["HTML list"] = interleaved(
        "HTML list, default page",
        lambda: html.get("/customers/"),
        lambda: raw_html(html_sql, html_params, tenant.pk),
        requests,
        TARGETS["html"],
        n,
    )

    from benchmarks.pages import measure_pages

    results.update(
        measure_pages(
            tenant=tenant,
            manager=manager,
            client=html,
            requests=requests,
            interleaved=interleaved,
            count_statements=count_statements,
        )
    )

    big = Tenant.objects.filter(slug="bench-big").first()
    if big is not None:
        big_manager = User.objects.get(username="benchbig_m")
        big_token = token_for(big_manager)
        big_api = Client(HTTP_AUTHORIZATION=f"Token {big_token}")
        with tenant_context(big):
            size = Customer.objects.count()
        # 3+ characters: customer_search_ids + trigram indexes; 2 characters: no trigram to look
        # up (plain filter); a community name shared by a sixth of the tenant: a broad match.
        for q in ("大客户12345", "13900012", "花园", "万科城市花园"):
            sql, sql_params = page_sql(big, big_token, {"q": q})
            mine, mine95 = interleaved(
                f"search q={q} ({size:,} customers, 1 tenant)",
                lambda q=q: big_api.get("/api/v1/customers/", {"q": q}),
                lambda s=sql, sp=sql_params: raw_json(s, sp, big.pk),
                max(20, requests // 4),
                None,
                None,
            )
            verdict = "OK" if mine <= 20 else "MISS"
            print(f"TARGET search q={q}: p50 {mine:.1f} ms (p95 {mine95:.1f}) vs ≤ 20 ms: {verdict}")
            if q in ("大客户12345", "万科城市花园"):
                explain(f"search q={q} (100k tenant)", sql, sql_params, big.pk)
    return {"tenant": tenant, "token": plaintext}


def measure_only_pages(requests: int) -> None:
    """The three page lines of ``benchmarks/pages.py`` alone, as the manager of ``bench-0``."""
    from benchmarks.pages import measure_pages
    from crm.models import Role, Tenant, User

    tenant = Tenant.objects.get(slug="bench-0")
    manager = User.objects.filter(tenant=tenant, roles__contains=[Role.MANAGER]).first()
    html = Client()
    html.force_login(manager, backend="crm.backends.TenantUserBackend")
    measure_pages(
        tenant=tenant,
        manager=manager,
        client=html,
        requests=requests,
        interleaved=interleaved,
        count_statements=count_statements,
    )


def measure_scans(scan_tenants: int) -> None:
    from crm.models import Tenant
    from crm.tenancy import platform_scope, tenant_context
    from customers.models import Lead
    from customers.services import leads as lead_services
    from customers.services import pool as pool_services
    from sales.models import Task
    from sales.services import task_reminders_send_due

    tenants = list(Tenant.objects.filter(slug__startswith="bench-").exclude(slug="bench-big").order_by("pk"))
    with platform_scope("benchmark: tenants whose overdue leads were not scanned yet"):
        due = Lead.objects.filter(status="open", sla_breached=False)
        fresh = set(due.values_list("tenant_id", flat=True).distinct())
    chosen = [tenant for tenant in tenants if tenant.pk in fresh][:scan_tenants] or tenants[:scan_tenants]
    from django.urls import reverse

    reverse("customers:detail", args=[1])  # the URLconf import is not part of a scan
    breaches, spent = 0, 0.0
    for tenant in chosen:
        started = time.perf_counter()
        with tenant_context(tenant):
            breaches += lead_services.lead_sla_scan(tenant=tenant)
        spent += time.perf_counter() - started
    per = spent * 1000 / breaches if breaches else float("nan")
    verdict = "OK" if breaches and per <= 1 else "MISS (target ≤ 1 ms)"
    print(
        f"SLA breach scan: {breaches} breaches in {spent:.2f} s = {per:.2f} ms/breach {verdict} | {loadavg()}"
    )
    pooled, spent = 0, 0.0
    for tenant in chosen:
        started = time.perf_counter()
        with tenant_context(tenant):
            pooled += pool_services.lead_pool_scan(tenant=tenant)
        spent += time.perf_counter() - started
    print(f"pool scan with due work: {pooled} customers pooled in {spent:.2f} s | {loadavg()}")
    idle = []
    for tenant in chosen:
        started = time.perf_counter()
        with tenant_context(tenant):
            lead_services.lead_sla_scan(tenant=tenant)
            pool_services.lead_pool_scan(tenant=tenant)
            task_reminders_send_due(tenant=tenant)
        idle.append((time.perf_counter() - started) * 1000)
    print(
        f"SLA + pool + reminder scans, nothing due, per tenant: p50 {pct(idle, 0.5):.2f} ms "
        f"(10,000 customers each) | {loadavg()}"
    )
    measure_recompute(chosen[0])
    tenant = chosen[0]
    with tenant_context(tenant):
        from django.utils import timezone

        now = timezone.now()
        sla = Lead.objects.filter(status="open", sla_breached=False, first_response_due_at__lte=now).order_by(
            "first_response_due_at"
        )[:500]
        reminders = Task.objects.filter(
            done_at__isnull=True, reminded_at__isnull=True, remind_at__isnull=False, remind_at__lte=now
        ).order_by("remind_at")[:500]
        queries = (("SLA scan", sla), ("reminder scan", reminders))
        plans = [(name, *qs.query.sql_with_params()) for name, qs in queries]
        # The idle arm of the pool scan as it runs (an UPDATE with its NOT EXISTS guards).
        with CaptureQueriesContext(connection) as captured:
            pool_services.lead_pool_scan(tenant=tenant)
        statements = [query["sql"] for query in captured.captured_queries]
        idle_update = next(sql for sql in statements if sql.startswith('UPDATE "customers_customer"'))
        plans.append(("pool scan (idle customers, the scan's UPDATE)", idle_update, None))
    for name, sql, params in plans:
        explain(name, sql, None if params is None else list(params), tenant.pk)


def measure_recompute(tenant) -> None:
    """Nightly recompute: the incremental pass (stale rows only) against the full pass."""
    import datetime

    from django.utils import timezone

    from crm.tenancy import tenant_context
    from customers.models import Activity, Customer
    from customers.services import classification
    from customers.services.settings import customer_settings_for

    with tenant_context(tenant):
        classification.customers_recompute_all(tenant=tenant)  # start from a consistent tenant
        size = Customer.objects.count()
        timings = {}
        for label, run_pass in (
            ("full (every customer)", classification.customers_recompute_all),
            ("incremental (stale only)", classification.customers_recompute_due),
        ):
            started = time.perf_counter()
            changed = run_pass(tenant=tenant)
            timings[label] = (time.perf_counter() - started) * 1000
            print(
                f"nightly recompute, nothing changed, {label}: {timings[label]:.1f} ms for {size:,} "
                f"customers ({changed} rewritten) | {loadavg()}"
            )
        stale_at = timezone.now() - datetime.timedelta(days=400)
        ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[:100])
        Customer.objects.filter(pk__in=ids).update(last_touch_at=stale_at, activity=Activity.ACTIVE)
        started = time.perf_counter()
        changed = classification.customers_recompute_due(tenant=tenant)
        spent = (time.perf_counter() - started) * 1000
        print(
            f"nightly recompute, 100 customers went silent, incremental: {spent:.1f} ms "
            f"({changed} rewritten, {spent / max(changed, 1):.2f} ms/row) | {loadavg()}"
        )
        due = classification.customers_due_for_recompute(
            settings_row=customer_settings_for(tenant=tenant), now=timezone.now()
        )
        sql, params = due.query.sql_with_params()
    explain("nightly recompute (stale customers)", sql, list(params), tenant.pk)


# --------------------------------------------------------------------------- gunicorn + wrk


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_http(token: str, seconds: int, workers: int) -> None:
    if shutil.which("wrk") is None:
        print("gunicorn throughput: SKIPPED (apt-get install wrk)")
        return
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings.production",
        "SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": DB_URL,
        "REDIS_URL": REDIS_URL,
        "SECURE_SSL_REDIRECT": "false",
        "CONN_MAX_AGE": "600",
        "BENCH_DATABASE_URL_RAW": DB_URL,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "benchmarks.raw_wsgi:application",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.2)
        header = f"Authorization: Token {token}"
        import urllib.request

        for _ in range(20):  # each worker imports its URLconf and views on its first requests
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/customers/", headers={"Authorization": f"Token {token}"}
            )
            urllib.request.urlopen(request, timeout=60).read()
        measured = {}
        for label, path in (
            ("gunicorn API list", "/api/v1/customers/"),
            ("gunicorn raw endpoint", "/raw/customers/"),
        ):
            subprocess.run(
                ["wrk", "-t2", "-c10", "-d5s", "-H", header, f"http://127.0.0.1:{port}{path}"],
                capture_output=True,
            )
            out = subprocess.run(
                [
                    "wrk",
                    "-t2",
                    "-c10",
                    f"-d{seconds}s",
                    "--latency",
                    "-H",
                    header,
                    f"http://127.0.0.1:{port}{path}",
                ],
                capture_output=True,
                text=True,
            ).stdout
            rps = next((line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")), "?")
            p99 = next((line.split()[1] for line in out.splitlines() if line.strip().startswith("99%")), "?")
            errors = [
                line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line
            ]
            print(
                f"{label:<44} {rps} req/s, p99 {p99}, {workers} sync workers, 10 clients, {seconds} s; "
                f"errors: {errors or 'none'} | {loadavg()}",
                flush=True,
            )
            measured[path] = (rps, p99, errors)
        rps, p99, errors = measured["/api/v1/customers/"]
        raw_rps = measured["/raw/customers/"][0]
        try:
            ratio = f"{float(raw_rps) / float(rps):.2f}×"
            ok = float(rps) >= 300 and _ms(p99) <= 100 and not errors
        except ValueError:
            ratio, ok = "?", False
        print(
            f"TARGET gunicorn API list: {rps} req/s (≥ 300), p99 {p99} (≤ 100 ms), errors "
            f"{errors or 'none'} (0); raw endpoint {raw_rps} req/s = {ratio} the API: "
            f"{'OK' if ok else 'MISS'}",
            flush=True,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _ms(text: str) -> float:
    """wrk's latency (``12.3ms``, ``1.02s``, ``850us``) in milliseconds."""
    for unit, factor in (("ms", 1.0), ("us", 0.001), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float("inf")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000, help="customers of the search tenant (0: none)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--scan-tenants", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=15, help="wrk duration per endpoint")
    parser.add_argument(
        "--workers", type=int, default=3, help="gunicorn sync workers (production: 3, Dockerfile)"
    )
    parser.add_argument("--reload", action="store_true", help="drop and rebuild crm_bench")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-scans", action="store_true", help="the SLA scan consumes its due leads")
    parser.add_argument("--no-lists", action="store_true", help="skip the list/search lines (and wrk)")
    parser.add_argument("--load-only", action="store_true", help="create and load the database, then stop")
    parser.add_argument(
        "--only",
        choices=["pages"],
        help="pages: only the lead inbox / customer detail / project detail lines (no lists, wrk, scans)",
    )
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, {loadavg()}, database {BENCH_DB}")
    if ensure_database(args):
        started = time.perf_counter()
        load(args.tenants, args.customers)
        if args.big:
            load_big(args.big)
        print(
            f"loaded {args.tenants} × {args.customers} customers (+ big tenant {args.big}) "
            f"in {time.perf_counter() - started:.0f} s"
        )
    if args.load_only:
        return 0
    setup_test_environment()
    if args.only == "pages":
        measure_only_pages(args.requests)
        print(f"done | {loadavg()}")
        return 0
    context = None if args.no_lists else measure_lists(args.requests)
    if context is not None and not args.no_http:
        measure_http(context["token"], args.seconds, args.workers)
    if not args.no_scans:
        measure_scans(args.scan_tenants)
    print(f"done | {loadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
