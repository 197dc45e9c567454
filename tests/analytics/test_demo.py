"""The demo tells a true story: response times spread around the SLA, statuses match the projects."""

from __future__ import annotations

import time

from django.core.management import call_command

from analytics import selectors
from analytics.scope import parse_scope
from crm.models import Tenant, User
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUpStatus


def test_seed_demo_is_fast_and_every_panel_shows_a_real_story(transactional_db):
    started = time.monotonic()
    call_command("seed_demo")
    elapsed = time.monotonic() - started
    print(f"seed_demo: {elapsed:.1f}s")
    # Under a minute on an idle machine; the bound leaves room for a shared CI box.
    assert elapsed < 120, f"seed_demo took {elapsed:.1f}s"
    tenant = Tenant.objects.get(slug="anju")
    manager = User.objects.get(username="anju_manager")
    with tenant_context(tenant):
        sla = selectors.panel_data("sla", parse_scope({"range": "this_year"}, tenant=tenant, user=manager))
        kpis = {kpi["key"]: kpi["value"] for kpi in sla["kpis"]}
        assert 1 <= kpis["median_minutes"] <= 15  # most answered inside the SLA …
        assert kpis["p90_minutes"] > 15  # … with a tail of breaches
        assert 0 < kpis["breach_rate"] < 0.5
        # Customers whose project is under way were contacted: none "待首次联系".
        assert not Customer.objects.filter(
            projects__isnull=False, follow_up_status=FollowUpStatus.FIRST_CONTACT
        ).exists()
        funnel = selectors.panel_data(
            "funnel", parse_scope({"range": "this_year"}, tenant=tenant, user=manager)
        )
        assert funnel["tables"][0]["rows"][0]["values"]["count"] > 50  # a year of inquiries
