"""Browser pages: leaderboard, account page with redemption form, customer panel, settings, link form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.extensions import customer_panels, customer_timeline
from crm.models import Role
from crm.tenancy import tenant_context
from referrals.models import LedgerEntry, Referral, ReferralAccount
from referrals.services import accounts, settings
from tests.customers.factories import CustomerFactory
from tests.referrals.conftest import sign
from tests.referrals.factories import funded_account

pytestmark = pytest.mark.django_db


def test_leaderboard_ranks_referrers_and_shows_referral_share(
    setup, session_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sign(setup.tenant, setup.project, setup.sales)
    page = session_client(setup.sales).get(reverse("referrals:home"))
    html = page.content.decode()
    assert page.status_code == 200
    assert "推荐排行榜" in html and setup.referrer.name in html and "¥1,000.00" in html
    assert "本月转介绍占比" in html and "100.0%" in html  # the only contract signed came by referral


def test_referral_share_selector(setup, django_capture_on_commit_callbacks):
    import datetime

    from django.utils import timezone

    from referrals.selectors import referral_share_of_new_contracts
    from tests.projects.factories import ProjectFactory
    from tests.referrals.conftest import sign as sign_project

    with django_capture_on_commit_callbacks(execute=True):
        sign_project(setup.tenant, setup.project, setup.sales)
    with tenant_context(setup.tenant):
        walk_in = ProjectFactory(tenant=setup.tenant)
    sign_project(setup.tenant, walk_in, setup.sales)
    with tenant_context(setup.tenant):
        today = timezone.localdate()
        share = referral_share_of_new_contracts(
            tenant=setup.tenant, start=today - datetime.timedelta(days=30), end=today
        )
        assert (share.new_contracts, share.referred_contracts, share.percent) == (2, 1, "50.0%")


def test_redemption_form_checks_the_balance_and_shows_the_error(tenant_a, session_client, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 50_000)
    client = session_client(sales)
    page = client.get(reverse("referrals:account", args=[account.pk]))
    assert page.status_code == 200 and "确认抵扣" in page.content.decode()
    url = reverse("referrals:redeem", args=[account.pk])
    over = client.post(url, {"amount_yuan": "500.01", "target": "appliances", "description": "冰箱"})
    assert over.status_code == 400 and "余额不足" in over.content.decode()
    ok = client.post(
        url, {"amount_yuan": "120.50", "target": "appliances", "description": "冰箱", "client_key": "k1"}
    )
    assert ok.status_code == 302
    client.post(
        url, {"amount_yuan": "120.50", "target": "appliances", "description": "冰箱", "client_key": "k1"}
    )
    with tenant_context(tenant_a):
        assert ReferralAccount.objects.get(pk=account.pk).balance_fen == 50_000 - 12_050
        assert LedgerEntry.objects.filter(kind="redemption").count() == 1  # double submit spent once


def test_adjust_form_is_manager_only(tenant_a, session_client, make_staff, manager_a):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
    url = reverse("referrals:adjust", args=[account.pk])
    sales = make_staff(tenant_a, Role.SALES)
    assert session_client(sales).post(url, {"amount_yuan": "10", "reason": "x"}).status_code == 403
    missing = session_client(manager_a).post(url, {"amount_yuan": "10", "reason": ""})
    assert missing.status_code == 400
    assert session_client(manager_a).post(url, {"amount_yuan": "10", "reason": "活动补贴"}).status_code == 302
    with tenant_context(tenant_a):
        assert ReferralAccount.objects.get(pk=account.pk).balance_fen == 11_000


def test_customer_panel_and_timeline(setup, rf, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign(setup.tenant, setup.project, setup.sales)
    request = rf.get("/")
    request.user = setup.sales
    with tenant_context(setup.tenant):
        panels = customer_panels(request=request, tenant=setup.tenant, customer_id=setup.referrer.pk)
        panel = next(p for p in panels if "转介绍" in p.title)
        account = ReferralAccount.objects.get(customer=setup.referrer)
        assert account.code in panel.html and setup.referred.name in panel.html and "¥1,000.00" in panel.html
        assert f"/referrals/join/{setup.tenant.slug}/{account.code}/" in panel.html
        titles = [e.title for e in customer_timeline(tenant=setup.tenant, customer_id=setup.referrer.pk)]
        assert "转介绍奖励入账" in titles and any(setup.referred.name in t for t in titles)


def test_link_referrer_form(tenant_a, session_client, sales_a):
    with tenant_context(tenant_a):
        referrer, referred = CustomerFactory.create_batch(2, tenant=tenant_a)
        code = accounts.referral_account_ensure(tenant=tenant_a, customer=referrer).code
    client = session_client(sales_a)
    url = reverse("referrals:link-referrer", args=[referred.pk])
    unknown = client.post(url, {"code": "NOSUCH99"})
    assert unknown.status_code == 400 and "找不到" in unknown.content.decode()
    own = client.post(reverse("referrals:link-referrer", args=[referrer.pk]), {"code": code})
    assert own.status_code == 400 and "不能推荐自己" in own.content.decode()
    assert client.post(url, {"code": code}).status_code == 302
    with tenant_context(tenant_a):
        assert Referral.objects.get().referrer_id == referrer.pk


def test_settings_page_manager_only(tenant_a, session_client, sales_a, manager_a):
    url = reverse("referrals:settings")
    assert session_client(sales_a).get(url).status_code == 403
    client = session_client(manager_a)
    assert client.get(url).status_code == 200
    bad = client.post(
        url, {"rule_kind": "percentage", "percentage": "0", "vip_threshold": 3, "vip_title": "VIP"}
    )
    assert bad.status_code == 400 and "比例必须" in bad.content.decode()
    ok = client.post(
        url,
        {
            "rule_kind": "percentage",
            "percentage": "1.5",
            "cap_yuan": "3000",
            "vip_threshold": 3,
            "vip_title": "VIP",
        },
    )
    assert ok.status_code == 302
    with tenant_context(tenant_a):
        rule = settings.referral_settings_get(tenant=tenant_a)
        assert (rule.percentage_bp, rule.cap_fen) == (150, 300_000)


def test_other_tenants_account_page_is_404(tenant_a, tenant_b, session_client, sales_a):
    with tenant_context(tenant_b):
        account_b = funded_account(tenant_b, 1_000)
    assert session_client(sales_a).get(reverse("referrals:account", args=[account_b.pk])).status_code == 404


def test_redemption_and_adjust_forms_refuse_an_overlong_client_key(
    tenant_a, session_client, make_staff, manager_a
):
    """A tampered hidden client_key longer than the idempotency key column is a form error, not a 500."""
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 50_000)
    long_key = "k" * 200
    redeem = session_client(sales).post(
        reverse("referrals:redeem", args=[account.pk]),
        {"amount_yuan": "10", "target": "appliances", "description": "冰箱", "client_key": long_key},
    )
    assert redeem.status_code == 400
    adjust = session_client(manager_a).post(
        reverse("referrals:adjust", args=[account.pk]),
        {"amount_yuan": "10", "reason": "活动补贴", "client_key": long_key},
    )
    assert adjust.status_code == 400
    with tenant_context(tenant_a):
        assert ReferralAccount.objects.get(pk=account.pk).balance_fen == 50_000
