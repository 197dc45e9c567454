"""The customer detail page reads every app's timeline and panel data in ONE statement (issue 12):
the sections' rows equal what the apps' selectors return, the timeline tag writes the template's
markup, and a page with rows of every app costs the same few statements."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm import extensions
from crm.extensions import TimelineEntry
from crm.models import Role
from crm.page_data import read_json
from crm.tenancy import tenant_context
from customers.templatetags.customer_detail import timeline_items
from payments import extensions as payment_extensions
from payments import selectors as payment_selectors
from payments.services import payment_plan_for_project, payment_receipt_record
from tests.aftercare.factories import MaintenancePlanFactory, ServiceTicketFactory
from tests.customers.factories import CustomerFactory, FollowUpFactory, LeadFactory
from tests.projects.factories import ProjectFactory, StageHistoryFactory
from tests.referrals.factories import ReferralFactory, funded_account
from tests.sales.factories import make_appointment, make_task

#: The timeline loop as the template wrote it before ``{% timeline_items %}``.
TIMELINE_TEMPLATE = """{% load i18n %}    {% for entry in timeline %}
      <li><strong>{% if entry.url %}<a href="{{ entry.url }}">{{ entry.title }}</a>{% else %}\
{{ entry.title }}{% endif %}</strong>
        <small>{{ entry.occurred_at|date:"Y-m-d H:i" }}{% if entry.actor %} · {{ entry.actor }}{% endif %}\
</small>
        {% if entry.detail %}<br>{{ entry.detail }}{% endif %}</li>
    {% empty %}
      <li>{% trans "还没有记录。" %}</li>
    {% endfor %}
"""


def test_timeline_tag_writes_the_templates_markup():
    now = timezone.now()
    entries = [
        TimelineEntry(occurred_at=now, kind="a", title="<b>标题</b> & 1", url="/x/?a=1&b=2", actor="张<三>"),
        TimelineEntry(
            occurred_at=now - datetime.timedelta(days=400), kind="b", title="无链接", detail="d<e>"
        ),
        TimelineEntry(occurred_at=now, kind="c", title="", detail="", actor=""),
    ]
    reference = engines["django"].from_string(TIMELINE_TEMPLATE)
    for timeline in (entries, []):
        assert "    " + timeline_items(timeline) + "\n" == reference.render({"timeline": timeline})


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


def _every_kind(tenant, customer, owner, manager) -> None:
    FollowUpFactory(tenant=tenant, customer=customer, author=owner)
    LeadFactory(tenant=tenant, customer=customer, assignee=owner)
    project = ProjectFactory(tenant=tenant, customer=customer, designer=owner, signed=True)
    StageHistoryFactory(tenant=tenant, project=project, changed_by=manager)
    plan = MaintenancePlanFactory(tenant=tenant, project__customer=customer)
    ServiceTicketFactory(tenant=tenant, project=plan.project, customer=customer)
    ReferralFactory(tenant=tenant, referrer=customer)
    funded_account(tenant, 10_000, customer=customer)
    make_appointment(tenant, customer=customer, staff=owner)
    make_task(tenant, customer=customer, assignee=owner)


def _statements(client, url: str) -> list[str]:
    assert client.get(url).status_code == 200  # warm the per-user caches
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_detail_page_reads_every_section_in_one_statement(tenant_a, make_staff, sales_a, session_client):
    manager = make_staff(tenant_a, Role.MANAGER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=sales_a)
        _every_kind(tenant_a, customer, sales_a, manager)
    statements = _statements(session_client(manager), f"/customers/{customer.pk}/")
    # SAVEPOINT (BEGIN in production), set_config, the customer, the page's data sets of every app,
    # then the test transaction's reset of the tenant and RELEASE (COMMIT in production); the user
    # and tenant come from the session's cached copy (crm/backends.py)
    heads = [" ".join(statement.split()[:2]) for statement in statements]
    assert len(statements) == 6, "\n".join(heads)
    page = statements[3]
    for table in (
        "customers_followup",
        "customers_lead",
        "customers_customerownership",
        "projects_stagehistory",
        "projects_project",
        "aftercare_serviceticket",
        "aftercare_maintenanceplan",
        "referrals_referral",
        "referrals_ledgerentry",
        "engagement_consentevent",
        "sales_appointment",
        "sales_task",
        "quotes_quotation",
        "payments_paymentplan",
    ):
        assert table in page


def test_payments_panel_rows_equal_plans_for_list(tenant_a, make_staff, rf):
    finance = make_staff(tenant_a, Role.FINANCE)
    manager = make_staff(tenant_a, Role.MANAGER)
    today = timezone.localdate()
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        plans = []
        for amount in (1_000_000, 2_500_000, 700_000):
            project = ProjectFactory(
                tenant=tenant_a, customer=customer, signed=True, contract_amount_fen=amount
            )
            plans.append(payment_plan_for_project(tenant=tenant_a, project_id=project.pk))
        for plan in plans[:2]:  # first instalments overdue, one partly paid
            plan.milestones.filter(position=1).update(due_on=today - datetime.timedelta(days=3))
        payment_receipt_record(
            tenant=tenant_a,
            plan=plans[0],
            amount_fen=120_000,
            method="cash",
            received_on=today,
            recorded_by=finance,
        )
        payment_receipt_record(
            tenant=tenant_a,
            plan=plans[2],
            amount_fen=50_000,
            method="cash",
            received_on=today,
            recorded_by=finance,
        )
        expected = list(
            payment_selectors.plans_for_list(today=today)
            .filter(customer_id=customer.pk)
            .values("id", "outstanding_fen", "overdue_fen")
        )
        request = rf.get("/")
        request.user = manager
        queries, has_panel = payment_extensions.CUSTOMER_SECTION.queries(
            request=request, tenant=tenant_a, customer_id=customer.pk, with_panel=True
        )
        data = read_json(queries)
        panel = payment_extensions.CUSTOMER_SECTION.read_panel(
            request=request, tenant=tenant_a, customer_id=customer.pk
        )
        value = payment_selectors.customer_lifetime_value_fen(customer_id=customer.pk)
    assert has_panel and panel is not None
    got = [{key: row[key] for key in ("id", "outstanding_fen", "overdue_fen")} for row in data["panel.plans"]]
    assert got == expected
    assert any(row["overdue_fen"] for row in expected) and any(row["outstanding_fen"] for row in expected)
    assert {key: data["panel.value"][key] for key in value} == value


def test_sections_without_permission_read_no_panel_data(tenant_a, make_staff, rf):
    designer = make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        request = rf.get("/")
        request.user = designer
        panels = extensions.customer_panels(request=request, tenant=tenant_a, customer_id=customer.pk)
    assert "回款" not in [panel.title for panel in panels]
    queries, has_panel = payment_extensions.CUSTOMER_SECTION.queries(
        request=request, tenant=tenant_a, customer_id=customer.pk, with_panel=True
    )
    assert not has_panel and queries == {}


def test_checked_sections_read_the_same_rows_as_the_visibility_filtered_ones(tenant_a, sales_a, rf):
    """Once the page has checked the customer, sales and quotes read its rows without their own
    visibility filter (written-out SQL): the same rows as the selectors' visible querysets."""
    from quotes import extensions as quote_extensions
    from sales import extensions as sales_extensions
    from tests.quotes.factories import make_quotation

    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=sales_a)
        for hours in (5, 30, -30):
            make_appointment(
                tenant_a,
                customer=customer,
                staff=sales_a,
                starts_at=timezone.now() + datetime.timedelta(hours=hours),
            )
        make_task(tenant_a, customer=customer, assignee=sales_a)
        make_task(tenant_a, customer=customer, assignee=sales_a, done_at=timezone.now())
        make_quotation(tenant_a, customer=customer)
        make_quotation(tenant_a, customer=customer, status="superseded")
        request = rf.get("/")
        request.user = sales_a
        for section in (sales_extensions.CUSTOMER_SECTION, quote_extensions.CUSTOMER_SECTION):
            checked, unchecked = (
                read_json(
                    section.queries(
                        request=request,
                        tenant=tenant_a,
                        customer_id=customer.pk,
                        with_panel=True,
                        checked=flag,
                    )[0]
                )
                for flag in (True, False)
            )
            assert checked == unchecked and any(checked.values())
