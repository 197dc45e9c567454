"""The SLA panel (one statement: the lead rows read once, grouped five ways) and the customer-value
panel (customers grouped by dimensions and style list, change orders by those and the region) give
exactly what the former one-aggregate-per-grouping queries gave — kept as the oracles
``sla_reference`` and ``customer_value_reference`` — on random data, for month, year and custom
periods, each filter, and tenants in three time zones (one with daylight saving, one half-hour)."""

from __future__ import annotations

import datetime
import json
import random

import pytest
from django.db import connection
from django.utils import timezone

from analytics.scope import parse_scope
from analytics.selectors.customer_value import _prefers, customer_value_panel
from analytics.selectors.sla import sla_panel
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Activity, BudgetTier, Customer, CustomerType, Lead, Lifecycle, SourceChannel
from projects.models import ChangeOrder, ChangeOrderStatus, Project, Stage
from tests.analytics import customer_value_reference, sla_reference
from tests.customers.factories import CustomerFactory

# What ``style_preferences`` may hold besides clean lists (imports, admin edits, old rows).
ODD_STYLES = [
    [],
    ["modern"],
    ["modern", "nordic"],
    ["nordic", "nordic"],
    "modern",
    {"modern": 1},
    [["modern"]],
    ["Modern"],
    [1, "japanese"],
    ["wabi_sabi", "unknown"],
    None,
]
PLACES = [("上海", "浦东新区"), ("上海", "徐汇区"), ("杭州", "西湖区"), ("", ""), ("上海", "")]


def _dataset(tenant, make_staff, rng: random.Random) -> dict:
    """Leads over 15 months (responded in time, late, flagged, unanswered past due or not yet due,
    unassigned), customers over every dimension, projects with change orders of every status."""
    sales = [
        make_staff(tenant, Role.SALES, display_name="乙"),
        make_staff(tenant, Role.SALES, display_name="甲"),
        make_staff(tenant, Role.SALES, display_name=""),  # shown by username
    ]
    designer = make_staff(tenant, Role.DESIGNER)
    manager = make_staff(tenant, Role.MANAGER)
    now = timezone.now()
    with tenant_context(tenant):
        customers = []
        for _ in range(70):
            customer = CustomerFactory(tenant=tenant, source_channel=rng.choice(SourceChannel.values))
            city, district = rng.choice(PLACES)
            Customer.objects.filter(pk=customer.pk).update(
                created_at=now - datetime.timedelta(days=rng.uniform(0, 450)),
                owner=rng.choice([*sales, None]),
                designer=rng.choice([designer, None, None]),
                budget_tier=rng.choice(BudgetTier.values),
                customer_type=rng.choice(CustomerType.values),
                lifecycle=rng.choice(Lifecycle.values),
                activity=rng.choice(Activity.values),
                style_preferences=rng.choice(ODD_STYLES) or [],
                city=city,
                district=district,
                contract_total_fen=rng.choice([0, 0, 150_000, 2_000_000]),
            )
            customers.append(customer)
        for index in range(160):
            customer = rng.choice(customers)
            received = now - datetime.timedelta(days=rng.uniform(0, 450), minutes=rng.uniform(0, 1440))
            if index % 10 == 0:
                received = now - datetime.timedelta(minutes=rng.uniform(0, 14))  # not yet due
            due = received + datetime.timedelta(minutes=15)
            seconds = rng.choice([None, rng.randint(0, 900), rng.randint(901, 20_000), 600, 600])
            responded = received + datetime.timedelta(seconds=seconds) if seconds is not None else None
            Lead.objects.create(
                tenant=tenant,
                customer=customer,
                source_channel=rng.choice(SourceChannel.values),
                received_at=received,
                clock_started_at=received,
                first_response_due_at=due,
                pool_due_at=due + datetime.timedelta(hours=2),
                status="responded" if responded else "open",
                assignee=rng.choice([*sales, None]),
                first_responded_at=responded,
                response_seconds=seconds,
                sla_breached=rng.random() < 0.2,
            )
        for number, customer in enumerate(rng.sample(customers, 25)):
            project = Project.objects.create(
                tenant=tenant,
                customer=customer,
                name=f"p{number}",
                stage=Stage.MASONRY,
                stage_entered_at=now,
            )
            for order in range(rng.randint(0, 3)):
                ChangeOrder.objects.create(
                    tenant=tenant,
                    project=project,
                    number=order + 1,
                    title="变更",
                    reason="业主要求",
                    status=rng.choice(ChangeOrderStatus.values),
                    amount_delta_fen=rng.choice([50_000, -20_000, 130_000]),
                )
    return {"sales": sales, "designer": designer, "manager": manager, "now": now}


def _dump(data: dict) -> str:
    return json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)


@pytest.mark.django_db
def test_merged_statements_equal_the_per_grouping_queries(tenant_a, make_staff):
    people = _dataset(tenant_a, make_staff, random.Random(13))
    today = timezone.localdate(people["now"])
    ranges = [{"range": preset} for preset in ("this_month", "last_month", "this_year")]
    ranges += [
        {
            "range": "custom",
            "start": (today - datetime.timedelta(days=400)).isoformat(),
            "end": today.isoformat(),
        },
        {
            "range": "custom",
            "start": (today - datetime.timedelta(days=200)).isoformat(),
            "end": (today - datetime.timedelta(days=150)).isoformat(),
        },
    ]
    filters = [
        {},
        {"channel": SourceChannel.values[0]},
        {"sales": str(people["sales"][2].pk)},
        {"designer": str(people["designer"].pk)},
    ]
    compared = 0
    for zone in ("Asia/Shanghai", "America/New_York", "Asia/Kolkata"):
        tenant_a.timezone = zone
        tenant_a.save(update_fields=["timezone"])
        with tenant_context(tenant_a):
            for period in ranges:
                for extra in filters:
                    params = {**period, **extra}
                    scope = parse_scope(params, tenant=tenant_a, user=people["manager"], now=people["now"])
                    sla, sla_before = sla_panel(scope), sla_reference.sla_panel(scope)
                    assert _dump(sla) == _dump(sla_before), (zone, params)
                    value = customer_value_panel(scope)
                    assert _dump(value) == _dump(customer_value_reference.customer_value_panel(scope)), (
                        zone,
                        params,
                    )
                    compared += bool(sla["tables"][0]["rows"]) + bool(value["tables"][2]["rows"])
    assert compared > 60  # the scopes held real groups (users, styles)


@pytest.mark.django_db
def test_panels_run_one_and_three_statements(tenant_a, make_staff, django_assert_num_queries):
    people = _dataset(tenant_a, make_staff, random.Random(7))
    with tenant_context(tenant_a):
        scope = parse_scope(
            {"range": "this_year"}, tenant=tenant_a, user=people["manager"], now=people["now"]
        )
        with django_assert_num_queries(1):
            sla_panel(scope)
        with django_assert_num_queries(3):
            customer_value_panel(scope)


@pytest.mark.django_db
def test_style_membership_is_jsonb_containment():
    """``_prefers`` answers what ``style_preferences @> '["<style>"]'`` (the definition) answers."""
    with connection.cursor() as cursor:
        for value in ODD_STYLES:
            for style in ("modern", "japanese", "nordic"):
                cursor.execute("SELECT %s::jsonb @> %s::jsonb", [json.dumps(value), json.dumps([style])])
                assert cursor.fetchone()[0] is _prefers(value, style), (value, style)
