"""Before/after of browser pages, interleaved request by request, in one run.

    git archive <before-commit> | tar -x -C /tmp/before
    BENCH_DATABASE_NAME=crm_bench_copy .venv/bin/python benchmarks/interleave.py \\
        --before /tmp/before [--requests 100] [/customers/ /customers/leads/ ...]

One worker process per source tree (``--before`` and this checkout), each a Django test client
logged in as the manager of ``bench-0``; the driver asks them in turn for one request at a time
(and, between them, the hand-written limit of the list: the API page statement + bare HTML), so
both versions see the same machine load. Prints p50/p95 per version, the ratio after/before and
each version's ratio to the limit, with SQL statements per request. Needs the database of
``benchmarks/run.py`` (``--load-only`` creates it); writes an API token into it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def worker(root: str, backend: str) -> None:
    """Serve ``GET <url>`` / ``COUNT <url>`` / ``LIMIT`` lines from stdin with the tree at ``root``."""
    sys.path.insert(0, root)
    database = os.environ.get("BENCH_DATABASE_NAME", "crm_bench")
    base = os.environ.get("BENCH_DATABASE_URL", "postgres://crm:crm@127.0.0.1:5432/postgres")
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings.test"
    os.environ["TEST_DATABASE_URL"] = base.rsplit("/", 1)[0] + f"/{database}"
    os.environ.setdefault("TEST_REDIS_URL", os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from crm.models import ApiToken, Role, Tenant, User, hash_token
    from crm.tenancy import tenant_context

    setup_test_environment()
    tenant = Tenant.objects.get(slug="bench-0")
    manager = User.objects.filter(tenant=tenant, roles__contains=[Role.MANAGER]).first()
    client = Client()
    client.force_login(manager, backend=backend)
    limit_sql: list = []

    def limit() -> None:
        if not limit_sql:  # the API list's page statement, captured once (the limit of run.py)
            plaintext, prefix = ApiToken.generate()
            with tenant_context(tenant):
                ApiToken.objects.create(
                    tenant=tenant, name="bench", user=manager, prefix=prefix, key_hash=hash_token(plaintext)
                )

            def capture(execute, sql, params, many, context):
                if "customers_customer" in sql and sql.lstrip().upper().startswith("SELECT"):
                    limit_sql.append((sql, list(params or [])))
                return execute(sql, params, many, context)

            with connection.execute_wrapper(capture):
                Client().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {plaintext}")
        sql, params = limit_sql[-1]
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT set_config('app.tenant_id', %s, true)", [str(tenant.pk)])
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            cursor.execute("COMMIT")
        cells = "".join("<tr>" + "".join(f"<td>{v}</td>" for v in row[:12]) + "</tr>" for row in rows)
        f"<html><body><table>{cells}</table></body></html>".encode()

    print("ready", flush=True)
    for line in sys.stdin:
        command, _, url = line.strip().partition(" ")
        if command == "COUNT":
            client.get(url)
            with CaptureQueriesContext(connection) as captured:
                client.get(url)
            print(len(captured.captured_queries), flush=True)
            continue
        started = time.perf_counter()
        if command == "LIMIT":
            limit()
        else:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        print(f"{(time.perf_counter() - started) * 1000:.3f}", flush=True)


def pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="source tree of the 'before' version")
    parser.add_argument("--before-backend", default="django.contrib.auth.backends.ModelBackend")
    parser.add_argument("--after-backend", default="crm.backends.TenantUserBackend")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--worker", nargs=2, metavar=("ROOT", "BACKEND"), help=argparse.SUPPRESS)
    parser.add_argument("urls", nargs="*", default=["/customers/"])
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return 0

    def start(root: str, backend: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, __file__, "--before", "-", "--worker", root, backend],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
        )
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
        return process

    versions = {
        "before": start(args.before, args.before_backend),
        "after": start(str(HERE), args.after_backend),
    }

    def ask(name: str, line: str) -> float:
        process = versions[name]
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(line + "\n")
        process.stdin.flush()
        return float(process.stdout.readline())

    rng = random.Random(12)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}", flush=True)
    for url in args.urls:
        counts = {name: int(ask(name, f"COUNT {url}")) for name in versions}
        timings: dict[str, list[float]] = {"before": [], "after": [], "limit": []}
        for i in range(args.requests + 3):
            order = ["before", "after", "limit"]
            rng.shuffle(order)
            for name in order:
                spent = ask("after", "LIMIT") if name == "limit" else ask(name, f"GET {url}")
                if i >= 3:  # warm-up
                    timings[name].append(spent)
        summary = {name: (pct(values, 0.5), pct(values, 0.95)) for name, values in timings.items()}
        limit50, limit95 = summary["limit"]
        for name in ("before", "after"):
            p50, p95 = summary[name]
            print(
                f"{url} {name:<6} {p50:7.2f} / {p95:7.2f} ms | limit {limit50:5.2f} / {limit95:5.2f} ms | "
                f"ratio {p50 / limit50:.1f}× / {p95 / limit95:.1f}× | {counts[name]} SQL/request",
                flush=True,
            )
        before50, before95 = summary["before"]
        after50, after95 = summary["after"]
        print(
            f"{url} after/before p50 {after50 / before50:.2f}, p95 {after95 / before95:.2f} | "
            f"load {os.getloadavg()[0]:.2f} | {json.dumps({'requests': args.requests})}",
            flush=True,
        )
    for process in versions.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
