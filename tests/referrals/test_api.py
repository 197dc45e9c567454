"""API: /api/v1/referrals/, /referrals/ledger/ (read-only), /referral-accounts/{id}/redeem|adjust/."""

from __future__ import annotations

import pytest

from crm.models import Role
from crm.tenancy import tenant_context
from referrals.models import LedgerEntry, Referral, ReferralAccount
from tests.customers.factories import CustomerFactory
from tests.referrals.factories import funded_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_client(tenant_a, make_staff, api_as):
    return api_as(make_staff(tenant_a, Role.SALES))


@pytest.fixture
def manager_client(manager_a, token_client):
    return token_client(manager_a)


def _state(tenant, account_id):
    with tenant_context(tenant):
        return (
            ReferralAccount.objects.get(pk=account_id).balance_fen,
            LedgerEntry.objects.filter(account_id=account_id).count(),
        )


def test_redeem_within_balance_and_over_balance_writes_nothing(tenant_a, sales_client):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 100_000)
    url = f"/api/v1/referral-accounts/{account.pk}/redeem/"
    body = {"amount_fen": 30_000, "redemption_target": "soft_furnishing", "description": "主卧窗帘"}
    response = sales_client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["amount_fen"] == -30_000 and response.json()["balance_after_fen"] == 70_000
    over = sales_client.post(url, {**body, "amount_fen": 70_001}, format="json")
    assert over.status_code == 400
    assert set(over.json()) == {"detail", "errors", "codes"} and "amount_fen" in over.json()["errors"]
    assert _state(tenant_a, account.pk) == (70_000, 2)


@pytest.mark.parametrize(
    "body",
    [
        {"amount_fen": 0, "redemption_target": "appliances", "description": "冰箱"},
        {"amount_fen": -100, "redemption_target": "appliances", "description": "冰箱"},
        {"amount_fen": 100, "redemption_target": "cash", "description": "冰箱"},
        {"amount_fen": 100, "redemption_target": "appliances", "description": ""},
        {"amount_fen": "abc", "redemption_target": "appliances", "description": "冰箱"},
    ],
)
def test_bad_redemptions_are_400_and_write_nothing(tenant_a, sales_client, body):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
    response = sales_client.post(f"/api/v1/referral-accounts/{account.pk}/redeem/", body, format="json")
    assert response.status_code == 400 and response.json()["errors"]
    assert _state(tenant_a, account.pk) == (10_000, 1)


def test_adjust_is_manager_only_and_needs_a_reason(tenant_a, sales_client, manager_client):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
    url = f"/api/v1/referral-accounts/{account.pk}/adjust/"
    assert sales_client.post(url, {"amount_fen": 500, "reason": "补发"}, format="json").status_code == 403
    no_reason = manager_client.post(url, {"amount_fen": 500, "reason": ""}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]
    zero = manager_client.post(url, {"amount_fen": 0, "reason": "x"}, format="json")
    assert zero.status_code == 400 and "amount_fen" in zero.json()["errors"]
    assert _state(tenant_a, account.pk) == (10_000, 1)
    ok = manager_client.post(url, {"amount_fen": -2_500, "reason": "重复发放扣回"}, format="json")
    assert ok.status_code == 201 and ok.json()["kind"] == "adjustment"
    assert _state(tenant_a, account.pk) == (7_500, 2)


def test_ledger_is_read_only_over_the_api(tenant_a, manager_client):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
        entry = account.entries.get()
    listing = manager_client.get(f"/api/v1/referrals/ledger/?account={account.pk}")
    assert listing.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [entry.pk]
    assert manager_client.post("/api/v1/referrals/ledger/", {}, format="json").status_code == 405
    for method in ("put", "patch", "delete"):
        response = getattr(manager_client, method)(f"/api/v1/referrals/ledger/{entry.pk}/", {}, format="json")
        assert response.status_code == 405


def test_referral_link_by_hand_and_bad_input(tenant_a, tenant_b, sales_client):
    with tenant_context(tenant_a):
        referrer, referred, second = CustomerFactory.create_batch(3, tenant=tenant_a)
    with tenant_context(tenant_b):
        foreign = CustomerFactory(tenant=tenant_b)
    ok = sales_client.post(
        "/api/v1/referrals/", {"referrer": referrer.pk, "referred": referred.pk}, format="json"
    )
    assert ok.status_code == 201 and ok.json()["source"] == "manual" and ok.json()["status"] == "referred"
    for body, field in [
        ({"referrer": referred.pk, "referred": referred.pk}, "referred"),  # self-referral
        ({"referrer": second.pk, "referred": referred.pk}, "referred"),  # second referrer
        ({"referrer": foreign.pk, "referred": second.pk}, "referrer"),  # another tenant's customer
    ]:
        response = sales_client.post("/api/v1/referrals/", body, format="json")
        assert response.status_code == 400 and field in response.json()["errors"], response.json()
    with tenant_context(tenant_a):
        assert Referral.objects.count() == 1
    referral_id = ok.json()["id"]
    moved = sales_client.post(
        f"/api/v1/referrals/{referral_id}/status/", {"status": "contacted"}, format="json"
    )
    assert moved.status_code == 200 and moved.json()["status"] == "contacted"
    bad = sales_client.post(f"/api/v1/referrals/{referral_id}/status/", {"status": "credited"}, format="json")
    assert bad.status_code == 400


def test_designer_can_view_but_not_redeem(tenant_a, make_staff, api_as):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
    client = api_as(make_staff(tenant_a, Role.DESIGNER))
    assert client.get("/api/v1/referral-accounts/").status_code == 200
    body = {"amount_fen": 100, "redemption_target": "appliances", "description": "冰箱"}
    assert (
        client.post(f"/api/v1/referral-accounts/{account.pk}/redeem/", body, format="json").status_code == 403
    )
    assert _state(tenant_a, account.pk) == (10_000, 1)


def test_vip_decision_and_settings_endpoints(tenant_a, manager_client, sales_client):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
    response = manager_client.post(
        f"/api/v1/referral-accounts/{account.pk}/vip-decision/", {"keep": True, "reason": "x"}, format="json"
    )
    assert response.status_code == 400  # not a VIP
    current = sales_client.get("/api/v1/referral-settings/current/")
    assert current.status_code == 200 and current.json()["rule_kind"] == "fixed"
    body = {"rule_kind": "percentage", "percentage_bp": 100, "cap_fen": 300_000, "vip_threshold": 3}
    assert sales_client.put("/api/v1/referral-settings/current/", body, format="json").status_code == 403
    saved = manager_client.put("/api/v1/referral-settings/current/", body, format="json")
    assert saved.status_code == 200 and saved.json()["percentage_bp"] == 100
    bad = manager_client.put(
        "/api/v1/referral-settings/current/", {**body, "percentage_bp": 0}, format="json"
    )
    assert bad.status_code == 400 and "percentage_bp" in bad.json()["errors"]


def test_account_create_returns_code_and_share_url(tenant_a, sales_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    response = sales_client.post("/api/v1/referral-accounts/", {"customer": customer.pk}, format="json")
    assert response.status_code == 201
    data = response.json()
    assert (
        data["customer"] == customer.pk
        and f"/referrals/join/{tenant_a.slug}/{data['code']}/" in data["share_url"]
    )
    again = sales_client.post("/api/v1/referral-accounts/", {"customer": customer.pk}, format="json")
    assert again.json()["id"] == data["id"]


@pytest.mark.parametrize(
    "path", ["/api/v1/referrals/", "/api/v1/referrals/ledger/", "/api/v1/referral-accounts/"]
)
def test_lists_have_constant_query_counts(tenant_a, manager_client, path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count(n: int) -> int:
        with tenant_context(tenant_a):
            for _ in range(n):
                account = funded_account(tenant_a, 1_000)
                Referral.objects.create(
                    tenant=tenant_a,
                    referrer=account.customer,
                    referred=CustomerFactory(tenant=tenant_a),
                    source="manual",
                )
        with CaptureQueriesContext(connection) as queries:
            assert manager_client.get(path).status_code == 200
        return len(queries)

    count(1)  # warm-up: one-off lookups (content types, token cache) don't count
    assert count(2) == count(10)
