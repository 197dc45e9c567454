"""Panels 5–8 (aftercare, referrals, satisfaction, customer value) on a hand-built March 2025.

On top of the conftest month (now = 2025-04-10 12:00 Asia/Shanghai, today = 04-10):

Projects: p1 (c1, pm1, signed 03-11, 200 000, change order +20 000); p2 (c8, pm2, signed
2024-07-01); p3 (c8, pm2, signed 03-25, 50 000) — c8's second contract, so a repeat purchase.
Plans (scheduled unless said): A p1 1-year due 04-20 (in the next 30 days); B p2 1-year due 04-01
(overdue); C p2 5-year due 05-30 (beyond 30 days); D p1 5-year, completed.
Visits (completed): V1 on D 03-12 with a renovation lead (c1 signed before: not a renovation
sale); V2 on C 03-20 with a lead, c8 then signed p3 on 03-25; V3 on B (1-year) 03-15 with a lead
(not a 5-year visit); V4 on C at 04-01 00:10 (April).
Tickets: T1 p1 unanswered, first response due 04-10 10:00 (breached), warranty, created 03-05;
T2 p2 responded, resolution due 04-11 08:00 (due within 24 h), paid, created 03-31 23:50;
T3 p2 responded, due 04-20 (on track), created 04-01 00:05; T4 p1 resolved, warranty, created 03-18.
Surveys answered: CSAT handover 5 (c1) and 3 (c8), visit 4 (03-31 23:59), 1 on 04-01 00:01
(April), 2 in February; NPS 10, 9, 8, 6, 3 in March and 10 in February; one CSAT sent 03-15
unanswered. Sent in March: 10, answered 9.
Referrals: c8 referred c1 (credited 03-15, credit entry 1 000 元) and c4 (not credited); c8's
account holds 1 500 元 and is VIP, c7's holds 200 元.
Customers: budget c1 high, c8 mid, the others low; styles c1 modern+nordic, c8 modern; c1 and c8
in 上海 浦东新区, the others 上海 徐汇区; contract totals c1 200 000, c8 50 000.
"""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.utils.http import urlencode

from aftercare.models import MaintenancePlan, PlanKind, ServiceTicket, Survey, Visit
from analytics import selectors
from crm.tenancy import tenant_context
from customers.models import Customer
from projects.models import Project
from referrals.models import LedgerEntry, Referral, ReferralAccount
from tests.analytics.conftest import at
from tests.analytics.test_selectors import _kpis, _rows, _scope


def _survey(tenant, customer, project, kind, trigger, score, answered, created=None):
    index = Survey.objects.count()
    survey = Survey.objects.create(
        tenant=tenant, customer=customer, project=project, kind=kind, trigger=trigger, score=score,
        answered_at=answered, token=f"t{index}", dedupe_key=f"d{index}",
        expires_at=at(12, 31),
    )  # fmt: skip
    Survey.objects.filter(pk=survey.pk).update(created_at=created or (answered - datetime.timedelta(days=1)))


def _ticket(tenant, project, created, *, status="open", warranty=True, responded=None, fr_due, res_due):
    ticket = ServiceTicket.objects.create(
        tenant=tenant, project=project, customer=project.customer, category="plumbing", description="漏水",
        status=status, under_warranty=warranty, first_response_due_at=fr_due, resolution_due_at=res_due,
        first_responded_at=responded, resolved_at=at(3, 20) if status == "resolved" else None,
    )  # fmt: skip
    ServiceTicket.objects.filter(pk=ticket.pk).update(created_at=created)


def build_more(tenant, m):
    with tenant_context(tenant):
        Project.objects.filter(pk=m.p2.pk).update(signed_on=datetime.date(2024, 7, 1))
        p3 = Project.objects.create(
            tenant=tenant, customer=m.c8, name="p3", project_manager=m.pm2, stage="contract_signed",
            stage_entered_at=at(3, 25), signed_on=datetime.date(2025, 3, 25), contract_number="HT-3",
            contract_amount_fen=50_000,
        )  # fmt: skip
        one = PlanKind.objects.create(tenant=tenant, code="y1", name="一年回访", months_after_handover=12)
        five = PlanKind.objects.create(
            tenant=tenant, code="y5", name="五年回访", months_after_handover=60, creates_renovation_lead=True
        )

        def plan(project, kind, due, status="scheduled"):
            return MaintenancePlan.objects.create(
                tenant=tenant,
                project=project,
                customer=project.customer,
                kind=kind,
                due_on=due,
                status=status,
            )

        plan(m.p1, one, datetime.date(2025, 4, 20))
        b = plan(m.p2, one, datetime.date(2025, 4, 1))
        c = plan(m.p2, five, datetime.date(2025, 5, 30))
        d = plan(m.p1, five, datetime.date(2025, 3, 10), status="completed")
        for visit_plan, when, lead in (
            (d, at(3, 12, 10), 1),
            (c, at(3, 20), 2),
            (b, at(3, 15), 3),
            (c, at(4, 1, 0, 10), 4),
        ):
            Visit.objects.create(
                tenant=tenant, plan=visit_plan, project=visit_plan.project, customer=visit_plan.customer,
                scheduled_at=when, status="completed", completed_at=when, renovation_lead_id=lead,
            )  # fmt: skip
        _ticket(tenant, m.p1, at(3, 5), fr_due=at(4, 10, 10), res_due=at(4, 15))
        _ticket(
            tenant, m.p2, at(3, 31, 23, 50), status="in_progress", warranty=False, responded=at(4, 1),
            fr_due=at(4, 1), res_due=at(4, 11, 8),
        )  # fmt: skip
        _ticket(
            tenant,
            m.p2,
            at(4, 1, 0, 5),
            status="assigned",
            responded=at(4, 2),
            fr_due=at(4, 2),
            res_due=at(4, 20),
        )
        _ticket(
            tenant,
            m.p1,
            at(3, 18),
            status="resolved",
            responded=at(3, 18),
            fr_due=at(3, 19),
            res_due=at(3, 25),
        )
        for customer, project, kind, trigger, score, answered in (
            (m.c1, m.p1, "csat", "handover", 5, at(3, 12)),
            (m.c8, m.p2, "csat", "handover", 3, at(3, 20)),
            (m.c8, m.p2, "csat", "visit", 4, at(3, 31, 23, 59)),
            (m.c8, m.p2, "csat", "visit", 1, at(4, 1, 0, 1)),
            (m.c8, m.p2, "csat", "handover", 2, at(2, 10)),
            (m.c1, m.p1, "nps", "yearly", 10, at(3, 2)),
            (m.c8, m.p2, "nps", "yearly", 9, at(3, 3)),
            (m.c8, m.p2, "nps", "yearly", 8, at(3, 4)),
            (m.c8, m.p2, "nps", "yearly", 6, at(3, 5)),
            (m.c8, m.p2, "nps", "yearly", 3, at(3, 6)),
            (m.c8, m.p2, "nps", "yearly", 10, at(2, 12)),
        ):
            _survey(tenant, customer, project, kind, trigger, score, answered)
        _survey(tenant, m.c8, m.p2, "csat", "ticket", None, None, created=at(3, 15))
        account8 = ReferralAccount.objects.create(
            tenant=tenant, customer=m.c8, code="C8", balance_fen=150_000, credited_referrals=1, is_vip=True
        )
        ReferralAccount.objects.create(tenant=tenant, customer=m.c7, code="C7", balance_fen=20_000)
        r1 = Referral.objects.create(
            tenant=tenant,
            referrer=m.c8,
            referred=m.c1,
            status="credited",
            source="manual",
            credited_at=at(3, 15),
        )
        Referral.objects.create(
            tenant=tenant, referrer=m.c8, referred=m.c4, status="referred", source="manual"
        )
        # The ledger is append-only (a trigger refuses UPDATE): write the entry "on" March 15th.
        with mock.patch("django.utils.timezone.now", return_value=at(3, 15)):
            LedgerEntry.objects.create(
                tenant=tenant, account=account8, kind="credit", amount_fen=100_000, balance_after_fen=100_000,
                idempotency_key="credit-r1", referral=r1,
            )  # fmt: skip
        Customer.objects.update(budget_tier="low", city="上海", district="徐汇区")
        Customer.objects.filter(pk=m.c1.pk).update(
            budget_tier="high", style_preferences=["modern", "nordic"], district="浦东新区"
        )
        Customer.objects.filter(pk=m.c8.pk).update(
            budget_tier="mid", style_preferences=["modern"], district="浦东新区", contract_total_fen=50_000
        )
    m.p3 = p3
    return m


@pytest.fixture
def more_a(tenant_a, month_a):
    return build_more(tenant_a, month_a)


@pytest.fixture
def panel_as(tenant_a, more_a, march):
    def panel(key, user, **extra):
        with tenant_context(tenant_a):
            return selectors.panel_data(key, _scope(tenant_a, user, {**march, **extra}))

    return panel


def test_aftercare_visits_tickets_warranty_and_renovation(panel_as, manager_a, more_a):
    data = panel_as("aftercare", manager_a)
    kpis = _kpis(data)
    assert kpis["due_30"]["value"] == 1  # A (04-20); C (05-30) is beyond 05-10; D is done
    assert kpis["overdue"]["value"] == 1  # B (04-01)
    assert kpis["tickets_open"]["value"] == 3  # T1, T2, T3 (T4 resolved)
    sla = _rows(data, "tickets_sla")
    assert [sla[key]["tickets"] for key in ("breached", "due_soon", "on_track")] == [1, 1, 1]
    warranty = _rows(data, "warranty")
    # Created in March: T1, T4 (warranty), T2 (paid, 23:50 on the 31st); T3 is April.
    assert warranty["warranty"] == {"tickets": 2, "open": 1, "share": 0.6667}
    assert warranty["paid"] == {"tickets": 1, "open": 1, "share": 0.3333}
    # 5-year visits in March: V1 (c1 signed before it) and V2 (c8 signed p3 after); V3 is 1-year, V4 April.
    assert _rows(data, "renovation")["five_year"] == {"visits": 2, "leads": 2, "signed": 1, "conversion": 0.5}
    assert kpis["renovation_signed"]["value"] == 1
    by_pm1 = _kpis(panel_as("aftercare", manager_a, pm=str(more_a.pm1.pk)))
    assert (by_pm1["due_30"]["value"], by_pm1["overdue"]["value"], by_pm1["tickets_open"]["value"]) == (
        1,
        0,
        1,
    )


def test_referral_share_fund_vips_and_repeat_purchases(panel_as, manager_a, more_a):
    data = panel_as("referrals", manager_a)
    kpis = _kpis(data)
    # Signed in March: p1 (c1, referred by c8) and p3 (c8, not referred, but c8 signed p2 in 2024).
    assert kpis["signed"]["value"] == 2
    assert kpis["referral_share"]["value"] == 0.5 and kpis["referral_share"]["previous"] is None
    assert kpis["repeat_rate"]["value"] == 0.5  # c8 of {c1, c8}
    assert kpis["credited"]["value"] == 1 and kpis["credit_paid"]["value"] == 100_000  # fen
    assert kpis["fund_balance"]["value"] == 170_000 and kpis["vips"]["value"] == 1
    monthly = _rows(data, "monthly")
    assert len(monthly) == 12 and list(monthly)[0] == "2024-04-01"
    assert monthly["2024-07-01"] == {"signed": 1, "referred": 0, "share": 0.0}
    assert monthly["2025-03-01"] == {"signed": 2, "referred": 1, "share": 0.5}
    with tenant_context(more_a.tenant):
        leader = str(ReferralAccount.objects.get(code="C8").pk)
    assert _rows(data, "leaders")[leader]["credited_referrals"] == 1


def test_satisfaction_csat_by_touchpoint_and_nps(panel_as, manager_a):
    data = panel_as("satisfaction", manager_a)
    kpis = _kpis(data)
    assert kpis["csat"]["value"] == 4.0 and kpis["csat"]["previous"] == 2.0  # (5 + 3 + 4) / 3; Feb: 2
    assert kpis["csat_answers"]["value"] == 3  # the 1 answered at 00:01 on April 1st is April's
    # NPS March: 10, 9 promoters; 8 passive; 6, 3 detractors → 100 × (2 − 2) / 5 = 0; February 10 → 100.
    assert kpis["nps"]["value"] == 0 and kpis["nps"]["previous"] == 100
    assert kpis["response_rate"]["value"] == 0.9  # 10 sent in March, 9 answered
    touchpoints = _rows(data, "csat_by_touchpoint")
    assert touchpoints["handover"] == {"answers": 2, "average": 4.0, "satisfied_share": 0.5}
    assert touchpoints["visit"] == {"answers": 1, "average": 4.0, "satisfied_share": 1.0}
    monthly = _rows(data, "nps_monthly")
    assert monthly["2025-03-01"] == {"answers": 5, "promoters": 2, "passives": 1, "detractors": 2, "nps": 0}
    assert monthly["2025-02-01"]["nps"] == 100 and monthly["2025-01-01"]["nps"] is None


def test_customer_value_segments_and_lifetime_value(panel_as, manager_a):
    data = panel_as("customer_value", manager_a)
    kpis = _kpis(data)
    # c1..c8; value = contracts 200 000 + 50 000 + approved change order 20 000.
    assert kpis["customers"]["value"] == 8 and kpis["new"]["value"] == 4  # c1, c2, c4, c7 in March
    assert (kpis["paying"]["value"], kpis["value"]["value"], kpis["average"]["value"]) == (
        2,
        270_000,
        135_000,
    )
    tiers = _rows(data, "budget_tier")
    assert tiers["high"] == {"customers": 1, "paying": 1, "value": 220_000, "average": 220_000}
    assert tiers["mid"] == {"customers": 1, "paying": 1, "value": 50_000, "average": 50_000}
    assert tiers["low"] == {"customers": 6, "paying": 0, "value": 0, "average": None}
    styles = _rows(data, "style")
    assert styles["modern"]["customers"] == 2 and styles["modern"]["value"] == 270_000
    assert styles["nordic"] == {"customers": 1, "paying": 1, "value": 220_000, "average": 220_000}
    region = _rows(data, "region")
    assert region["上海|徐汇区"]["customers"] == 6 and region["上海|浦东新区"]["value"] == 270_000
    channel = _rows(data, "channel")
    assert list(channel)[0] == "douyin" and channel["douyin"]["customers"] == 5
    assert channel["douyin"]["value"] == 220_000 and channel["website"]["value"] == 50_000


def test_sales_user_gets_their_own_customers_in_panels_5_to_8(panel_as, more_a):
    s1 = more_a.s1  # owns c1, c2, c3, c5, c6
    referrals = _kpis(panel_as("referrals", s1, sales=str(more_a.s2.pk)))
    assert referrals["signed"]["value"] == 1 and referrals["referral_share"]["value"] == 1.0  # p1 only
    assert referrals["fund_balance"]["value"] == 0 and referrals["vips"]["value"] == 0  # c7, c8 are s2's
    value = _kpis(panel_as("customer_value", s1))
    assert value["customers"]["value"] == 5 and value["value"]["value"] == 220_000
    satisfaction = _kpis(panel_as("satisfaction", s1))
    assert satisfaction["csat_answers"]["value"] == 1 and satisfaction["nps_answers"]["value"] == 1
    aftercare = _kpis(panel_as("aftercare", s1))
    assert aftercare["tickets_open"]["value"] == 1 and aftercare["overdue"]["value"] == 0


def test_customer_value_links_open_lists_with_the_same_count(session_client, manager_a, more_a, march):
    import re

    client = session_client(manager_a)
    page = client.get(f"/dashboard/?{urlencode(march)}").content.decode()
    section = page.split('id="panel-customer_value"')[1].split("</section>")[0]
    links = re.findall(r'<td data-column="customers"><a href="([^"]+)">([\d,]+)</a>', section)
    assert len(links) >= 10
    for href, number in links:
        listing = client.get(href.replace("&amp;", "&")).content.decode()
        assert f"共 {number} 位客户" in listing, href


def test_new_panels_are_on_the_page_and_in_the_api_and_export(
    session_client, token_client, manager_a, more_a, march
):
    import io

    import openpyxl

    page = session_client(manager_a).get(f"/dashboard/?{urlencode(march)}").content.decode()
    for key in ("aftercare", "referrals", "satisfaction", "customer_value"):
        assert f'id="panel-{key}"' in page
        data = token_client(manager_a).get(f"/api/v1/analytics/{key}/?{urlencode(march)}").json()
        assert data["key"] == key and data["tables"]
        response = session_client(manager_a).get(f"/dashboard/export/{key}.xlsx?{urlencode(march)}")
        rows = list(openpyxl.load_workbook(io.BytesIO(response.content)).active.iter_rows(values_only=True))
        assert rows[0][0] == data["title"]
