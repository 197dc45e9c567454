"""``{% lead_rows %}`` writes exactly what the inbox's row template wrote (kept here as the reference)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone, translation

from crm.models import Role
from crm.tenancy import tenant_context
from customers.views import LeadInboxView
from engagement.models import LeadScore
from tests.customers.factories import CustomerFactory, LeadFactory

pytestmark = pytest.mark.django_db

# The inbox rows as the template wrote them before the tag (``timeuntil`` given the view's ``now``).
REFERENCE = Template((Path(__file__).parent / "lead_inbox_rows_reference.html").read_text())
TAG = Template("{% load lead_inbox %}{% lead_rows rows now %}")


def _inbox_context(user) -> dict:
    """The context ``LeadInboxView`` renders (captured from the view itself)."""
    captured: dict = {}
    request = RequestFactory().get("/customers/leads/")
    request.user = user
    import customers.views as views

    original = views.render

    def capture(request, template_name, context=None, status=200):
        captured.update(context or {})
        return original(request, template_name, context, status=status)

    views.render = capture
    try:
        assert LeadInboxView().get(request).status_code == 200
    finally:
        views.render = original
    return captured


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES])
def test_lead_rows_equal_the_row_template(tenant_a, make_staff, language, role):
    user = make_staff(tenant_a, role)
    other = make_staff(tenant_a, Role.SALES, display_name="王<五>")
    now = timezone.now()
    with tenant_context(tenant_a):
        overdue = LeadFactory(
            tenant=tenant_a,
            assignee=user,
            customer=CustomerFactory(tenant=tenant_a, owner=user, name="李 & <四>", wechat_id="li_si"),
            first_response_due_at=now - datetime.timedelta(minutes=3),
            sla_breached=True,
            note="<b>很长的备注</b>" * 10,
            source_channel="douyin",
        )
        LeadFactory(  # arrived out of hours: the clock starts tomorrow
            tenant=tenant_a,
            assignee=other,
            customer=CustomerFactory(tenant=tenant_a, owner=other),
            clock_started_at=now + datetime.timedelta(hours=14),
            first_response_due_at=now + datetime.timedelta(hours=14, minutes=15),
        )
        LeadFactory(
            tenant=tenant_a,
            customer=CustomerFactory(tenant=tenant_a, anonymised_at=now),
            first_response_due_at=now + datetime.timedelta(days=2, minutes=7),
        )
        LeadScore.objects.create(
            tenant=tenant_a,
            lead=overdue,
            customer=overdue.customer,
            score=0.8765,
            method="rules",
            computed_at=now,
            factors=[
                {"feature": "a", "label": "预算<高>"},
                {"feature": "b", "label": "渠道"},
                {"label": "三"},
            ],
        )
        with translation.override(language):
            context = _inbox_context(user)
            assert len(context["rows"]) == (3 if role == Role.MANAGER else 2)
            reference = REFERENCE.render(Context(context))
            rendered = TAG.render(Context(context))
    assert rendered == reference
    assert "&lt;b&gt;" in rendered and "lead-row overdue" in rendered and "crm-badge danger" in rendered
