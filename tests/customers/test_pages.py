"""Browser pages: list (search, filters, constant queries), detail timeline, forms, inbox, pool, privacy."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.extensions import (
    Panel,
    TimelineEntry,
    _panel_providers,
    _timeline_providers,
    register_customer_panel,
    register_customer_timeline,
)
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import AuditAction, Customer, CustomerAuditLog, CustomerSettings, Lead
from customers.services import customers, privacy, settings
from tests.customers.factories import CustomerFactory, FollowUpFactory, LeadFactory


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


def _seed(tenant, owner, count: int) -> None:
    with tenant_context(tenant):
        for i in range(count):
            CustomerFactory(
                tenant=tenant,
                owner=owner,
                designer=owner,
                community=f"翠湖天地{i}",
                tags=["学区房"],
                system_tags=["亲子家庭"],
            )


def test_list_runs_constant_queries_for_two_page_sizes(
    tenant_a, sales_a, session_client, django_assert_num_queries
):
    other = sales_a.__class__.objects.create(username="s2", tenant=tenant_a, roles=[Role.SALES])
    _seed(tenant_a, sales_a, 60)
    _seed(tenant_a, other, 60)
    with tenant_context(tenant_a):  # every customer visible, half with masked phones
        CustomerSettings.objects.update_or_create(tenant=tenant_a, defaults={"sales_visibility": "all"})
    client = session_client(sales_a)
    client.get(reverse("customers:list"))  # warm caches (session, content types)
    counts = []
    for size in (25, 100):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            response = client.get(reverse("customers:list"), {"page_size": size, "owner": "", "q": ""})
        assert response.status_code == 200
        assert response.content.decode().count('href="/customers/') >= size
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
    with django_assert_num_queries(counts[0]):
        client.get(reverse("customers:list"), {"page_size": 50})


def test_api_list_runs_constant_queries_for_two_page_sizes(
    tenant_a, sales_a, api_as, django_assert_max_num_queries
):
    _seed(tenant_a, sales_a, 120)
    client = api_as(sales_a)
    client.get("/api/v1/customers/")  # the token's first use records last_used_at
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (10, 100):
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/api/v1/customers/", {"page_size": size})
        assert len(response.json()["results"]) == size
        counts.append(len(captured))
    assert counts[0] == counts[1], counts


def test_list_search_and_filters(tenant_a, sales_a, session_client):
    with tenant_context(tenant_a):
        customers.customer_create(
            tenant=tenant_a, name="陈静", phone="13811112222", community="碧桂园", budget_fen=40_000_000
        )
        customers.customer_create(
            tenant=tenant_a, name="刘洋", phone="13933334444", community="龙湖春江", has_pets=True
        )
    client = session_client(sales_a)
    page = client.get(reverse("customers:list"), {"q": "碧桂园"}).content.decode()
    assert "陈静" in page and "刘洋" not in page
    page = client.get(reverse("customers:list"), {"q": "3333"}).content.decode()
    assert "刘洋" in page and "陈静" not in page
    page = client.get(reverse("customers:list"), {"budget_tier": "high"}).content.decode()
    assert "陈静" in page and "刘洋" not in page
    page = client.get(reverse("customers:list"), {"has_pets": "true"}).content.decode()
    assert "刘洋" in page and "陈静" not in page


def test_phone_masked_in_list_unless_owner(tenant_a, sales_a, session_client):
    """A pool / unowned customer is visible to sales but its number is masked; the owner's is full."""
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, phone="+8613812349876")
        CustomerFactory(tenant=tenant_a, phone="+8613812341111", owner=sales_a)
    page = session_client(sales_a).get(reverse("customers:list")).content.decode()
    assert "138****9876" in page and "13812349876" not in page
    assert "13812341111" in page


def test_detail_renders_timeline_providers_and_panels(tenant_a, sales_a, session_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        FollowUpFactory(tenant=tenant_a, customer=customer, content="电话沟通：想要北欧风")

    def provider(*, tenant, customer_id):
        return [TimelineEntry(occurred_at=timezone.now(), kind="project_stage", title="项目进入水电阶段")]

    def panel(*, request, tenant, customer_id):
        return Panel(title="项目面板", html="<p>进行中 1 个</p>")

    register_customer_timeline(provider)
    register_customer_panel(panel)
    try:
        page = session_client(sales_a).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    finally:
        _timeline_providers.remove(provider)
        _panel_providers.remove(panel)
    assert "电话沟通：想要北欧风" in page and "项目进入水电阶段" in page
    assert "项目面板" in page and "进行中 1 个" in page


def test_other_tenants_customer_is_404(tenant_a, tenant_b, admin_b, session_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    client = session_client(admin_b)
    for name in ("customers:detail", "customers:edit"):
        assert client.get(reverse(name, args=[customer.pk])).status_code == 404
    assert client.post(reverse("customers:follow-up-create", args=[customer.pk]), {}).status_code == 404


def test_create_form_shows_field_errors_and_creates(tenant_a, sales_a, session_client):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name="已存在", phone="+8613800000001")
    client = session_client(sales_a)
    bad = client.post(
        reverse("customers:create"),
        {
            "name": "新",
            "phone": "13800000001",
            "source_channel": "website",
            "customer_type": "new_house",
            "intent": "potential",
            "budget_fen": "-1",
        },
    )
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "已存在" in text or "预算" in text
    ok = client.post(
        reverse("customers:create"),
        {
            "name": "新客户",
            "phone": "13800000002",
            "source_channel": "douyin",
            "customer_type": "second_hand",
            "intent": "intent",
            "budget_fen": "250000",
            "style_preferences": ["nordic", "japanese"],
            "tags": "急装，学区房",
            "is_local": "on",
        },
    )
    assert ok.status_code == 302, ok.content.decode()[:2000]
    with tenant_context(tenant_a):
        customer = Customer.objects.get(phone="+8613800000002")
    assert customer.style_preferences == ["nordic", "japanese"] and customer.tags == ["急装", "学区房"]
    assert customer.owner == sales_a and customer.budget_tier == "mid"
    edit = client.post(
        reverse("customers:edit", args=[customer.pk]),
        {
            "name": "新客户",
            "phone": "12",
            "source_channel": "douyin",
            "customer_type": "second_hand",
            "intent": "intent",
        },
    )
    assert edit.status_code == 400 and "手机号" in edit.content.decode()


def test_follow_up_form_records_touch(tenant_a, sales_a, session_client):
    with tenant_context(tenant_a):
        lead = LeadFactory(tenant=tenant_a, assignee=sales_a)
    client = session_client(sales_a)
    url = reverse("customers:follow-up-create", args=[lead.customer_id])
    assert client.post(url, {"kind": "call", "content": ""}).status_code == 400
    response = client.post(url, {"kind": "wechat", "content": "加了微信，发了案例", "outcome": "reached"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Lead.objects.get(pk=lead.pk).status == "responded"


def test_lead_inbox_lists_by_due_time_with_countdown(tenant_a, sales_a, manager_a, session_client):
    now = timezone.now()
    with tenant_context(tenant_a):
        later = LeadFactory(tenant=tenant_a, first_response_due_at=now + datetime.timedelta(minutes=10))
        overdue = LeadFactory(tenant=tenant_a, first_response_due_at=now - datetime.timedelta(minutes=3))
    page = session_client(manager_a).get(reverse("customers:lead-inbox")).content.decode()
    assert page.index(overdue.customer.name) < page.index(later.customer.name)
    assert 'class="lead-row overdue"' in page and "data-due=" in page and "js/crm.js" in page
    assert "响应时间统计" in page


def test_lead_inbox_form_creates_lead(tenant_a, sales_a, session_client):
    client = session_client(sales_a)
    bad = client.post(
        reverse("customers:lead-inbox"), {"name": "张", "phone": "1", "source_channel": "website"}
    )
    assert bad.status_code == 400 and "手机号" in bad.content.decode()
    ok = client.post(
        reverse("customers:lead-inbox"), {"name": "张", "phone": "13812345678", "source_channel": "website"}
    )
    assert ok.status_code == 302
    with tenant_context(tenant_a):
        assert Lead.objects.get().assignee == sales_a


def test_pool_claim_from_page(tenant_a, sales_a, session_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(
            tenant=tenant_a, in_pool=True, pooled_at=timezone.now(), pool_reason="线索超时未响应"
        )
    client = session_client(sales_a)
    assert customer.name in client.get(reverse("customers:lead-inbox")).content.decode()
    client.post(reverse("customers:claim", args=[customer.pk]))
    with tenant_context(tenant_a):
        customer.refresh_from_db()
    assert customer.owner == sales_a and not customer.in_pool


def test_reveal_phone_from_page_is_audited(tenant_a, make_staff, session_client):
    designer = make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, phone="+8613812349876", designer=designer)
    response = session_client(designer).post(
        reverse("customers:reveal-phone", args=[customer.pk]), HTTP_HX_REQUEST="true"
    )
    assert "13812349876" in response.content.decode()
    with tenant_context(tenant_a):
        assert CustomerAuditLog.objects.filter(action=AuditAction.REVEAL_PHONE, actor=designer).count() == 1


def test_personal_data_export_and_anonymise(tenant_a, manager_a, sales_a, session_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(
            tenant=tenant_a, name="隐私客户", phone="+8613812349876", wechat_id="wx_secret"
        )
        FollowUpFactory(tenant=tenant_a, customer=customer, content="聊了预算")
    assert (
        session_client(sales_a).get(reverse("customers:personal-data", args=[customer.pk])).status_code == 403
    )
    client = session_client(manager_a)
    exported = client.get(reverse("customers:personal-data", args=[customer.pk]))
    assert exported.status_code == 200
    data = exported.json()
    assert data["name"] == "隐私客户" and data["follow_ups"][0]["content"] == "聊了预算"
    client.post(reverse("customers:anonymise", args=[customer.pk]))
    with tenant_context(tenant_a):
        customer.refresh_from_db()
        assert (
            customer.name == "已匿名客户" and "13812349876" not in customer.phone and customer.wechat_id == ""
        )
        assert customer.follow_ups.count() == 1  # history kept
        actions = set(CustomerAuditLog.objects.values_list("action", flat=True))
    assert actions == {AuditAction.EXPORT_CUSTOMER, AuditAction.ANONYMISE}


def test_filter_panel_is_loaded_on_demand(tenant_a, sales_a, session_client):
    client = session_client(sales_a)
    page = client.get(reverse("customers:list")).content.decode()
    assert 'hx-trigger="toggle once"' in page and 'name="budget_tier"' not in page
    partial = client.get(
        reverse("customers:list"), {"_filters": "1"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'name="budget_tier"' in partial and "<html" not in partial
    filtered = client.get(reverse("customers:list"), {"budget_tier": "high"}).content.decode()
    assert 'name="budget_tier"' in filtered  # active filters: the panel is open and rendered


def test_settings_page_changes_thresholds_and_rotates_intake_key(
    tenant_a, manager_a, sales_a, session_client
):
    with tenant_context(tenant_a):
        customer = customers.customer_create(
            tenant=tenant_a, name="甲", phone="13800000001", budget_fen=20_000_000
        )
    assert customer.budget_tier == "mid"
    assert session_client(sales_a).get(reverse("customers:settings")).status_code == 403
    client = session_client(manager_a)
    form = {
        "business_hours_start": "09:00",
        "business_hours_end": "21:00",
        "business_days": ["0", "1", "2", "3", "4", "5", "6"],
        "pool_after_minutes": "120",
        "pool_after_idle_days": "30",
        "silent_after_days": "30",
        "budget_low_below_fen": "100000",
        "budget_high_from_fen": "150000",
        "value_high_from_fen": "500000",
        "sales_visibility": "own",
        "auto_assign": "on",
    }
    assert client.post(reverse("customers:settings"), form).status_code == 302
    with tenant_context(tenant_a):
        customer.refresh_from_db()
    assert customer.budget_tier == "high"  # recomputed with the new threshold
    bad = client.post(reverse("customers:settings"), {**form, "budget_high_from_fen": "50000"})
    assert bad.status_code == 400 and "高预算下限" in bad.content.decode()
    page = client.post(reverse("customers:settings"), {"rotate_intake_key": "1"}).content.decode()
    assert 'id="intake-key">ik_' in page


def test_audit_log_page_lists_reveals_for_managers(tenant_a, manager_a, sales_a, make_staff, session_client):
    designer = make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, name="被查看的客户")
        privacy.customer_reveal_phone(tenant=tenant_a, customer=customer, user=designer)
    assert session_client(sales_a).get(reverse("customers:audit-log")).status_code == 403
    page = session_client(manager_a).get(reverse("customers:audit-log")).content.decode()
    assert "被查看的客户" in page and "查看完整手机号" in page and str(designer) in page


def test_settings_reject_empty_business_day(tenant_a, manager_a, session_client):
    """Opening == closing means "always open" only with every day; with some days it is a 0-minute
    window that pushes every SLA to the next morning, so the form refuses it."""
    form = {
        "business_hours_start": "09:00",
        "business_hours_end": "09:00",
        "business_days": ["0", "1", "2", "3", "4"],
        "pool_after_minutes": "120",
        "pool_after_idle_days": "30",
        "silent_after_days": "30",
        "budget_low_below_fen": "100000",
        "budget_high_from_fen": "300000",
        "value_high_from_fen": "500000",
        "sales_visibility": "own",
    }
    bad = session_client(manager_a).post(reverse("customers:settings"), form)
    assert bad.status_code == 400 and "营业结束时间必须晚于开始时间" in bad.content.decode()
    with tenant_context(tenant_a):
        assert settings.customer_settings_for(tenant=tenant_a).business_days != [0, 1, 2, 3, 4]
    ok = session_client(manager_a).post(
        reverse("customers:settings"), {**form, "business_days": [str(d) for d in range(7)]}
    )
    assert ok.status_code == 302
