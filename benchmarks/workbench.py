"""Benchmark the role workbenches (``/`` as manager, sales, project manager, service) on the kept
analytics benchmark database (load it once with ``benchmarks/analytics.py --keep``).

    TEST_DATABASE_NAME=bench .venv/bin/python benchmarks/workbench.py [--runs 20] [--statements]

Whole requests through the Django stack as the non-superuser role (RLS applies), on the largest
tenant (50,000 customers / 10,000 projects). Prints p50 / p95 / min server time, the Django
process's own CPU time per request (p50; less sensitive to the machine's load than wall time), SQL
statements per request and the load average; ``--statements`` also lists each request's slowest statements.
Does not migrate (``--migrate`` does, then VACUUM ANALYZE), so a checkout of older code can be
measured against its own copy of the database, interleaved with this one.
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

from django.db import connection  # noqa: E402

ROLES = ["manager", "sales", "pm", "service"]


def measure(users: dict, runs: int, statements: bool, roles: list[str]) -> None:
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    setup_test_environment()
    for role in roles:
        client = Client()
        client.force_login(users[role], backend="django.contrib.auth.backends.ModelBackend")
        client.get("/")  # warm-up (connection, templates)
        times, cpu, captured_last = [], [], None
        for _ in range(runs):
            with CaptureQueriesContext(connection) as captured:
                started, started_cpu = time.perf_counter(), time.process_time()
                response = client.get("/")
                times.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - started_cpu) * 1000)
            assert response.status_code == 200, (role, response.status_code)
            captured_last = captured
        ordered = sorted(times)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        print(
            f"workbench: {role:8s} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms  "
            f"min {ordered[0]:6.1f} ms  python cpu p50 {statistics.median(cpu):5.1f} ms  "
            f"{len(captured_last)} queries  load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        if statements and captured_last is not None:
            slowest = sorted(captured_last.captured_queries, key=lambda q: -float(q["time"]))
            for query in slowest[:8]:
                print(f"    {float(query['time']) * 1000:6.1f} ms  {query['sql'][:220]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--statements", action="store_true", help="list the slowest statements")
    parser.add_argument("--migrate", action="store_true", help="migrate and VACUUM ANALYZE first")
    parser.add_argument("--roles", default=",".join(ROLES))
    args = parser.parse_args()
    name = f"{connection.settings_dict['TEST']['NAME']}_analytics"  # as benchmarks/analytics.py names it
    connection.close()
    connection.settings_dict["NAME"] = name
    if args.migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    measure(_large_tenant_users(), args.runs, args.statements, args.roles.split(","))
    return 0


def _large_tenant_users() -> dict:
    from crm.models import Tenant, User

    tenant = Tenant.objects.get(slug="bench-analytics-0")
    users = {u.username: u for u in User.objects.filter(tenant=tenant)}
    return {
        "manager": users["ba0_m"],
        "sales": users["ba0_s0"],
        "pm": users["ba0_pm0"],
        "service": users["ba0_cs"],
    }


if __name__ == "__main__":
    sys.exit(main())
