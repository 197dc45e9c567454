"""SLA breach scan per breach: this code against an older revision, interleaved, on one database.

    BENCH_DATABASE_NAME=crm_bench_<you> .venv/bin/python benchmarks/sla_scan.py \
        [--before <git rev>] [--rounds 6] [--emails] [--profile out.prof]

Needs a COPY of the benchmark database (``CREATE DATABASE crm_bench_<you> TEMPLATE crm_bench``):
it resets the scanned tenants after each round (breach rows, notifications, deliveries and
events of the scan deleted, leads un-breached), so every round drains the same 200 due leads of a
``bench-*`` tenant again. Round r scans tenant A with one implementation and tenant B with the
other, the order alternating, so load swings hit both alike. ``--before`` (default: the merge base
with ``main``) loads that revision's ``lead_sla_scan``, ``notify_many`` and ``publish_many`` from
git into separate modules. ``--emails`` gives the tenants' staff e-mail addresses (one email
delivery per notification, as in production). ``--profile`` writes a cProfile of the current
scan's rounds.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = os.environ.get("BENCH_DATABASE_NAME", "")
BASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://crm:crm@127.0.0.1:5432/postgres")
os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings.test"
os.environ["TEST_DATABASE_URL"] = BASE_URL.rsplit("/", 1)[0] + f"/{BENCH_DB}"
os.environ.setdefault("TEST_REDIS_URL", os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11"))

if BENCH_DB in ("", "crm_bench"):
    sys.exit("set BENCH_DATABASE_NAME to a copy of crm_bench: this benchmark rewrites the scanned tenants")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


def _module_at(revision: str, path: str, name: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    module = types.ModuleType(name)
    module.__file__ = f"{revision}:{path}"
    sys.modules[name] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our own history
    return module


def old_scan(revision: str):
    """``lead_sla_scan`` of ``revision``, wired to that revision's notify_many and publish_many."""
    from crm import events

    notifications = _module_at(revision, "crm/notifications/services.py", "bench_old_notifications")
    outbox = _module_at(revision, "crm/events/__init__.py", "bench_old_events")
    leads = _module_at(revision, "customers/services/leads.py", "bench_old_leads")
    leads.events = types.SimpleNamespace(
        EventType=events.EventType, publish=outbox.publish, publish_many=outbox.publish_many
    )
    leads._notify_many = notifications.notify_many
    return leads.lead_sla_scan


def reset(tenant) -> int:
    """Undo what a scan did to ``tenant`` so its due leads are due again; returns how many."""
    from crm.tenancy import tenant_context

    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            """
            WITH breach AS (
                DELETE FROM customers_leadslabreach WHERE tenant_id = %(t)s RETURNING lead_id
            ), lead AS (
                UPDATE customers_lead SET sla_breached = false
                WHERE tenant_id = %(t)s AND id IN (SELECT lead_id FROM breach) RETURNING id
            ), note AS (
                SELECT id FROM notifications_notification
                WHERE tenant_id = %(t)s AND kind = 'lead_sla_breach'
            ), delivery AS (
                DELETE FROM notifications_delivery
                WHERE tenant_id = %(t)s AND notification_id IN (SELECT id FROM note)
            ), gone AS (
                DELETE FROM notifications_notification WHERE id IN (SELECT id FROM note)
            ), event AS (
                DELETE FROM outbox_event
                WHERE tenant_id = %(t)s AND type IN ('lead.sla_breached', 'lead.assigned')
                RETURNING id
            ), event_delivery AS (
                DELETE FROM outbox_eventdelivery
                WHERE tenant_id = %(t)s AND event_id IN (SELECT id FROM event)
            )
            SELECT count(*) FROM lead
            """,
            {"t": tenant.pk},
        )
        return cursor.fetchone()[0]


def backend_cpu_seconds() -> float | None:
    """CPU time of this connection's PostgreSQL backend (``/proc``; same machine only)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def give_emails(tenant) -> None:
    from crm.models import User

    for user in User.objects.filter(tenant=tenant, email=""):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])


def main() -> int:
    from crm.models import Tenant
    from crm.tenancy import tenant_context
    from customers.services.leads import lead_sla_scan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_before = subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    parser.add_argument("--before", default=default_before or "main")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--emails", action="store_true")
    parser.add_argument("--profile", default="")
    parser.add_argument("--only-after", action="store_true", help="skip the old implementation")
    args = parser.parse_args()

    scans = {"after": lead_sla_scan}
    if not args.only_after:
        scans["before"] = old_scan(args.before)
    tenants = list(Tenant.objects.filter(slug__startswith="bench-").exclude(slug="bench-big").order_by("pk"))
    pair = tenants[-len(scans) :]
    for tenant in pair:
        if args.emails:
            give_emails(tenant)
        reset(tenant)
    from django.urls import reverse

    reverse("customers:detail", args=[1])  # the URLconf import is not part of a scan
    for name, tenant in zip(scans, pair, strict=False):  # warm-up: lazy imports, broker connection
        with tenant_context(tenant):
            scans[name](tenant=tenant)
        reset(tenant)
    profiler = cProfile.Profile() if args.profile else None
    per_breach: dict[str, list[float]] = {name: [] for name in scans}
    python_cpu: dict[str, list[float]] = {name: [] for name in scans}
    server_cpu: dict[str, list[float]] = {name: [] for name in scans}
    print(f"before = {args.before}, tenants {[t.slug for t in pair]}, emails: {args.emails}")
    for round_number in range(args.rounds):
        order = list(scans) if round_number % 2 == 0 else list(reversed(scans))
        for name in order:
            tenant = pair[(list(scans).index(name) + round_number) % len(pair)]
            server_started = backend_cpu_seconds()
            cpu_started = time.process_time()
            started = time.perf_counter()
            if profiler is not None and name == "after":
                profiler.enable()
            with tenant_context(tenant):
                breaches = scans[name](tenant=tenant)
            if profiler is not None:
                profiler.disable()
            spent = (time.perf_counter() - started) * 1000
            python = (time.process_time() - cpu_started) * 1000 / max(breaches, 1)
            server_ended = backend_cpu_seconds()
            server = (
                (server_ended - server_started) * 1000 / max(breaches, 1)
                if server_started is not None and server_ended is not None
                else float("nan")
            )
            per_breach[name].append(spent / max(breaches, 1))
            python_cpu[name].append(python)
            server_cpu[name].append(server)
            print(
                f"round {round_number} {name:<6} {tenant.slug}: {breaches} breaches in {spent:.1f} ms = "
                f"{spent / max(breaches, 1):.2f} ms/breach (CPU: Python {python:.2f}, PostgreSQL "
                f"{server:.2f} ms/breach) | load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            reset(tenant)
    for name, values in per_breach.items():
        print(
            f"{name:<6} ms/breach: median {statistics.median(values):.2f}, "
            f"min {min(values):.2f}, max {max(values):.2f}; CPU per breach (median): "
            f"Python {statistics.median(python_cpu[name]):.2f} ms, "
            f"PostgreSQL backend {statistics.median(server_cpu[name]):.2f} ms"
        )
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"profile of 'after' written to {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
