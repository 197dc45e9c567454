"""Benchmark: a push rule over a 50,000-customer tenant decides its audience (issue 16: ≤ 2 s).

    DATABASE_URL=postgres://crm:crm@127.0.0.1:5432/bench_crm \
        .venv/bin/python benchmarks/push_audience.py --customers 50000 [--run]

Loads one tenant (slug ``bench-push``) with N customers — a third tagged 儿童房, half of all opted
in to SMS, a week of earlier pushes for the frequency cap — then times the decision
``push_preview`` (audience with consent, already decided this period, frequency-capped, the
deterministic control group, who would receive it now) and, with ``--run``, the whole
``push_rule_run`` (dispatch rows, SMS rows in the outbox, tracked links). Deletes the tenant at the
end unless ``--keep``.

``--sends N`` times a full run of N sends (N opted-in customers, a fresh rule per run, 10% control)
with the batched ``push_rule_run`` and with the former one-transaction-per-customer loop (kept
below as ``_run_per_customer``), interleaved over ``--rounds`` rounds on the same connection.
Writes: run it against your own database (see docs/PERFORMANCE.md), never the shared ``crm_bench``.
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

from django.core.exceptions import ValidationError  # noqa: E402
from django.db import IntegrityError, connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from crm.models import Tenant  # noqa: E402
from crm.tenancy import platform_scope, tenant_context  # noqa: E402
from customers.models import Customer  # noqa: E402
from engagement.models import Consent, ContentItem, PushDispatch, PushRule  # noqa: E402
from engagement.services import pushes  # noqa: E402
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


def _run_per_customer(*, tenant: Tenant, rule: PushRule, now: datetime.datetime) -> dict:
    """The run as it was before batching: one transaction (dispatch row + send) per customer."""
    key = pushes.period_key(rule, now)
    done = PushDispatch.objects.filter(tenant=tenant, rule=rule, period_key=key).values("customer_id")
    capped = pushes._capped(tenant=tenant, rule=rule, now=now)
    counts = {"sent": 0, "held_out": 0}
    audience = push_audience(tenant=tenant, rule=rule).exclude(pk__in=done).select_related("owner")
    for customer in audience.iterator(chunk_size=2000):
        held_out = pushes.in_control_group(
            rule_id=rule.pk, customer_id=customer.pk, percent=rule.control_percent
        )
        if customer.pk in capped and not held_out:
            continue
        status = "held_out" if held_out else "sent"
        try:
            with transaction.atomic():
                dispatch = PushDispatch.objects.create(
                    tenant=tenant,
                    rule=rule,
                    customer=customer,
                    period_key=key,
                    held_out=held_out,
                    decided_at=now,
                    status=status,
                    sent_at=now if status == "sent" else None,
                )
                if status == "sent":
                    pushes._deliver(tenant=tenant, rule=rule, dispatch=dispatch, customer=customer)
        except (IntegrityError, ValidationError):
            continue
        counts[status] += 1
    return counts


def _load_sends(tenant: Tenant, customers: int) -> ContentItem:
    now = timezone.now()
    rows = Customer.objects.bulk_create(
        [
            Customer(tenant=tenant, name=f"发送客户{index}", phone=f"+86151{index:08d}", tags=["推送"])
            for index in range(customers)
        ],
        batch_size=5000,
    )
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
            for customer in rows
        ],
        batch_size=5000,
    )
    return ContentItem.objects.create(
        tenant=tenant, title="环保材料清单", kind="material_list", summary="E0 级板材"
    )


def _time_sends(tenant: Tenant, item: ContentItem, rounds: int) -> None:
    """Batched vs per-customer full runs, alternating which goes first, each on a fresh rule."""
    from crm.notifications.models import SmsMessage

    runners = {"batched": push_rule_run, "per-customer": _run_per_customer}
    seconds: dict[str, list[float]] = {name: [] for name in runners}
    for round_number in range(rounds):
        order = list(runners) if round_number % 2 == 0 else list(reversed(runners))
        for name in order:
            with tenant_context(tenant):
                rule = PushRule.objects.create(
                    tenant=tenant,
                    name=f"{name} {round_number}",
                    item=item,
                    channel="sms",
                    audience_tags=["推送"],
                    control_percent=10,
                    max_per_customer_per_week=50,
                    quiet_start=datetime.time(0, 0),
                    quiet_end=datetime.time(0, 0),
                )
                rule = PushRule.objects.select_related("item", "tenant").get(pk=rule.pk)
                sms_before = SmsMessage.objects.count()
                start = time.perf_counter()
                result = runners[name](tenant=tenant, rule=rule, now=timezone.now())
                took = time.perf_counter() - start
                sms = SmsMessage.objects.count() - sms_before
            seconds[name].append(took)
            decided = result["sent"] + result["held_out"]
            print(
                f"  round {round_number + 1} {name:>12}: {decided} decisions ({result['sent']} SMS queued, "
                f"{sms} outbox rows) in {took:.2f} s = {decided / took:.0f} decisions/s"
            )
    for name, values in seconds.items():
        print(
            f"{name:>12}: median {statistics.median(values):.2f} s, "
            f"min {min(values):.2f} s over {rounds} runs"
        )
    ratio = statistics.median(seconds["per-customer"]) / statistics.median(seconds["batched"])
    print(f"speed-up (median): {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--run", action="store_true", help="also send (dispatch + SMS outbox rows)")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--sends", type=int, default=0, help="time full runs of this many sends")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.sends:
        _sends_only(args)
        return
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


def _sends_only(args: argparse.Namespace) -> None:
    slug = f"{SLUG}-sends"
    for leftover in Tenant.objects.filter(slug=slug):
        _drop(leftover)
    tenant = Tenant.objects.create(name="推送发送压测公司", slug=slug)
    try:
        with tenant_context(tenant):
            item = _load_sends(tenant, args.sends)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer; ANALYZE engagement_consent")
        from django.urls import reverse

        reverse("engagement:track", args=["0"])  # load the URLconf before the first timed run
        print(f"full runs of {args.sends} opted-in customers (10% control), batch {pushes.RUN_BATCH}:")
        _time_sends(tenant, item, args.rounds)
    finally:
        if not args.keep:
            _drop(tenant)


if __name__ == "__main__":
    main()
