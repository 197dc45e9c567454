"""Benchmark: a push rule over a 50,000-customer tenant decides its audience (issue 16: ≤ 2 s).

    DATABASE_URL=postgres://crm:crm@127.0.0.1:5432/bench_crm \
        .venv/bin/python benchmarks/push_audience.py --customers 50000 [--run]

Loads one tenant (slug ``bench-push``) with N customers — a third tagged 儿童房, half of all opted
in to SMS, a week of earlier pushes for the frequency cap — then times the decision
``push_preview`` (audience with consent, already decided this period, frequency-capped, the
deterministic control group, who would receive it now) and, with ``--run``, the whole
``push_rule_run`` (dispatch rows, SMS rows in the outbox, tracked links). Deletes the tenant at the
end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import Tenant  # noqa: E402
from crm.tenancy import platform_scope, tenant_context  # noqa: E402
from customers.models import Customer  # noqa: E402
from engagement.models import Consent, ContentItem, PushDispatch, PushRule  # noqa: E402
from engagement.services.pushes import push_audience, push_preview, push_rule_run  # noqa: E402

SLUG = "bench-push"


def _drop(tenant: Tenant) -> None:
    from django.apps import apps

    from crm.tenancy import tenant_owned_models

    with platform_scope("benchmark cleanup"):
        for model in reversed(tenant_owned_models()):
            model.objects.filter(tenant=tenant)._raw_delete(connection.alias)
        apps.get_model("crm", "User").objects.filter(tenant=tenant).delete()
        tenant.delete()


def _load(tenant: Tenant, customers: int) -> PushRule:
    now = timezone.now()
    rows = [
        Customer(
            tenant=tenant,
            name=f"压测客户{index}",
            phone=f"+86150{index:08d}",
            tags=["儿童房"] if index % 3 == 0 else (["收纳"] if index % 3 == 1 else []),
            has_children=index % 3 == 0,
        )
        for index in range(customers)
    ]
    Customer.objects.bulk_create(rows, batch_size=5000)
    Consent.objects.bulk_create(
        [
            Consent(
                tenant=tenant,
                customer=customer,
                channel="sms",
                state="granted",
                source="intake_form",
                version="2025-01",
                changed_at=now,
            )
            for customer in rows[::2]
        ],
        batch_size=5000,
    )
    item = ContentItem.objects.create(
        tenant=tenant, title="儿童房安全设计指南", kind="article", tags=["儿童房"]
    )
    earlier = PushRule.objects.create(
        tenant=tenant, name="上周的推送", item=item, channel="sms", audience_tags=["儿童房"]
    )
    PushDispatch.objects.bulk_create(
        [
            PushDispatch(
                tenant=tenant,
                rule=earlier,
                customer=customer,
                period_key="once",
                decided_at=now - datetime.timedelta(days=2),
                status="sent",
                sent_at=now - datetime.timedelta(days=2),
            )
            for customer in rows[::12]
        ],
        batch_size=5000,
    )
    return PushRule.objects.create(
        tenant=tenant,
        name="儿童房家庭",
        item=item,
        channel="sms",
        audience_tags=["儿童房"],
        control_percent=10,
        max_per_customer_per_week=1,
        quiet_start=datetime.time(0, 0),
        quiet_end=datetime.time(0, 0),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--run", action="store_true", help="also send (dispatch + SMS outbox rows)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    for leftover in Tenant.objects.filter(slug=SLUG):
        _drop(leftover)
    tenant = Tenant.objects.create(name="推送压测公司", slug=SLUG)
    try:
        start = time.perf_counter()
        with tenant_context(tenant):
            rule = _load(tenant, args.customers)
        with connection.cursor() as cursor:
            cursor.execute(
                "ANALYZE customers_customer; ANALYZE engagement_consent; ANALYZE engagement_pushdispatch"
            )
        print(f"loaded {args.customers} customers in {time.perf_counter() - start:.1f} s")
        timings = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            with tenant_context(tenant):
                preview = push_preview(tenant=tenant, rule=rule)
            timings.append(time.perf_counter() - start)
        print(
            f"push_preview (audience decision) over {args.customers} customers: "
            f"median {statistics.median(timings):.3f} s, max {max(timings):.3f} s -> {preview}"
        )
        with tenant_context(tenant):
            start = time.perf_counter()
            audience = push_audience(tenant=tenant, rule=rule).count()
            print(f"push_audience count ({audience}): {time.perf_counter() - start:.3f} s")
        if args.run:
            start = time.perf_counter()
            with tenant_context(tenant):
                result = push_rule_run(tenant=tenant, rule=rule)
            seconds = time.perf_counter() - start
            decided = result["sent"] + result["held_out"]
            print(
                f"push_rule_run: {result} in {seconds:.1f} s "
                f"({decided / seconds:.0f} decisions/s; SMS leave through the outbox at the provider's rate)"
            )
    finally:
        if not args.keep:
            _drop(tenant)


if __name__ == "__main__":
    main()
