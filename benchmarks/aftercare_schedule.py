"""Benchmark: schedule maintenance plans for N handovers, then one day's reminder scan.

    DATABASE_URL=postgres://crm:crm@127.0.0.1:5432/bench_crm \
        .venv/bin/python benchmarks/aftercare_schedule.py --handovers 100000

N handovers give 3·N plans (1/3/5 years), so 100,000 handovers = the 300,000-plan scan. Prints
timings and the EXPLAIN (ANALYZE) of the scan's range query. Uses its own tenant
(slug ``bench-aftercare``) and deletes it at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from aftercare.models import AftercareSettings, MaintenancePlan, PlanKind, ReminderDispatch, Survey  # noqa: E402
from aftercare.services import dates  # noqa: E402
from aftercare.services import plans as plans_services  # noqa: E402
from aftercare.services import reminders as reminders_services  # noqa: E402
from crm.models import Role, Tenant, User  # noqa: E402
from crm.notifications.models import Notification  # noqa: E402
from crm.tenancy import tenant_context  # noqa: E402
from customers.models import Customer  # noqa: E402
from projects.models import Project  # noqa: E402

SLUG = "bench-aftercare"


def timed(label: str):
    class _Timer:
        def __enter__(self):
            self.start = time.perf_counter()
            return self

        def __exit__(self, *exc):
            self.seconds = time.perf_counter() - self.start
            print(f"{label:<58} {self.seconds:8.2f} s")

    return _Timer()


def _days_since_handover(rng: random.Random) -> int:
    """Mostly handovers of the last year (plans still ahead); 0.5% neglected ones already overdue."""
    return rng.randint(395, 730) if rng.random() < 0.005 else rng.randint(0, 364)


def make_handovers(tenant: Tenant, count: int, today: datetime.date, batch: int = 5000) -> None:
    service = User.objects.create(
        username=f"{SLUG}-service-{tenant.pk}", tenant=tenant, roles=[Role.SERVICE], display_name="压测客服"
    )
    rng = random.Random(42)
    for start in range(0, count, batch):
        size = min(batch, count - start)
        with tenant_context(tenant):
            customers = Customer.objects.bulk_create(
                [
                    Customer(tenant=tenant, name=f"压测客户{start + i}", phone=f"+86150{start + i:08d}")
                    for i in range(size)
                ]
            )
            Project.objects.bulk_create(
                [
                    Project(
                        tenant=tenant,
                        customer=customer,
                        name=f"压测小区 {start + i} 号",
                        handed_over_on=today - datetime.timedelta(days=_days_since_handover(rng)),
                        service_owner=service,
                    )
                    for i, customer in enumerate(customers)
                ]
            )


def cleanup(tenant: Tenant) -> None:
    """Remove the benchmark tenant's rows inside its own tenant (RLS), children first."""
    with tenant_context(tenant):
        ReminderDispatch.objects.all()._raw_delete(connection.alias)
        Survey.objects.all()._raw_delete(connection.alias)
        Notification.objects.all().delete()
        for model in (MaintenancePlan, Project, Customer):
            model.objects.all()._raw_delete(connection.alias)
        PlanKind.objects.all().delete()
        AftercareSettings.objects.all().delete()
        User.objects.filter(tenant=tenant).delete()
        tenant.delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--handovers", type=int, default=100_000)
    parser.add_argument(
        "--sample", type=int, default=1000, help="handovers scheduled one by one (service call)"
    )
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}")
    for leftover in Tenant.objects.filter(slug=SLUG):
        cleanup(leftover)
    tenant = Tenant.objects.create(name="压测装修公司", slug=SLUG)
    today = dates.tenant_today(tenant)
    try:
        with timed(f"create {args.handovers:,} customers + handed-over projects"):
            make_handovers(tenant, args.handovers, today)

        with tenant_context(tenant):
            sample = list(Project.objects.order_by("id")[: args.sample])
        with timed(f"schedule {len(sample):,} handovers one by one (service call)") as one_by_one:
            for project in sample:
                with tenant_context(tenant):
                    plans_services.maintenance_plans_schedule(tenant=tenant, project=project)
        print(f"{'  per handover':<58} {1000 * one_by_one.seconds / max(len(sample), 1):8.2f} ms")

        with (
            timed(f"schedule all {args.handovers:,} handovers (INSERT … SELECT by id range)"),
            tenant_context(tenant),
        ):
            inserted = plans_services.maintenance_plans_schedule_all(tenant=tenant)
        with timed("replay all handovers (idempotent: inserts nothing)"), tenant_context(tenant):
            replayed = plans_services.maintenance_plans_schedule_all(tenant=tenant)
        sample_size = min(args.handovers, 10_000)
        with timed(f"replay {sample_size:,} handovers through the ORM bulk path"), tenant_context(tenant):
            plans_services.maintenance_plans_schedule_many(
                tenant=tenant, projects=Project.objects.order_by("id")[:sample_size].iterator(chunk_size=2000)
            )
        with tenant_context(tenant):
            plans = MaintenancePlan.objects.count()
        print(f"plans: {plans:,} (inserted by the set-based pass {inserted:,}, on replay {replayed})")

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE aftercare_maintenanceplan")
            cursor.execute("ANALYZE aftercare_reminderdispatch")

        with timed("daily reminder scan: decide (30/7-day offsets + escalation)"), tenant_context(tenant):
            decided = reminders_services.reminders_decide(tenant=tenant, today=today)
        with timed("same scan again (duplicate beat: decides nothing)"), tenant_context(tenant):
            again = reminders_services.reminders_decide(tenant=tenant, today=today)
        with tenant_context(tenant):
            reminders = ReminderDispatch.objects.filter(offset_days__gt=0).count()
            escalations = ReminderDispatch.objects.filter(offset_days__lt=0).count()
        print(f"decided: {len(decided):,} ({reminders:,} reminders, {escalations:,} escalations)")
        print(f"decided on replay: {len(again)}")

        with timed("send the decided dispatches (notify, claimed with SKIP LOCKED)"), tenant_context(tenant):
            sent = reminders_services.reminders_send_pending(tenant=tenant, batch_size=500)
        print(f"sent: {sent:,}")

        print("\nEXPLAIN ANALYZE of the scan's range query (30-day offset):")
        low = today + datetime.timedelta(days=27)
        high = today + datetime.timedelta(days=30)
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT p.tenant_id, p.id "
                "FROM aftercare_maintenanceplan p "
                "WHERE p.tenant_id = %s AND p.status = 'scheduled' AND p.due_on BETWEEN %s AND %s",
                [tenant.pk, low, high],
            )
            for (line,) in cursor.fetchall():
                print("   ", line)
    finally:
        if not args.keep:
            with timed("cleanup"):
                cleanup(tenant)


if __name__ == "__main__":
    main()
