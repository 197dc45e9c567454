"""One rate-limit mechanism (crm/ratelimit.py): the client address comes from ``REMOTE_ADDR`` unless
``TRUSTED_PROXY_COUNT`` says proxies append to ``X-Forwarded-For``; a client that varies the header
(or the key it sends) still hits the limit. API answers 429 JSON with Retry-After, pages a 429 page.
"""

from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from crm.models import Role
from crm.ratelimit import Rate, client_ident, client_ip
from crm.tenancy import tenant_context
from customers.models import Lead
from customers.services import settings as customer_settings
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LIMITS = {
    "intake_ip": "20/h",
    "intake_key": "60/min",
    "progress_ip": "5/h",
    "aftercare_public_ip": "5/h",
    "referral_join_ip": "3/h",
    "login_ip": "8/h",
}


def _xff(i: int) -> str:
    return f"203.0.113.{i % 250}, 198.51.100.{i % 250}"


# --- the client address ------------------------------------------------------------------------


def _request(remote="10.0.0.5", xff=None):
    extra = {"HTTP_X_FORWARDED_FOR": xff} if xff is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def test_without_trusted_proxies_the_header_is_ignored():
    assert client_ip(_request(xff="1.2.3.4")) == "10.0.0.5"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_proxy_the_address_it_appended_is_the_client():
    assert client_ip(_request(xff="6.6.6.6, 1.2.3.4")) == "1.2.3.4"  # 6.6.6.6 was sent by the client
    assert client_ip(_request(xff="1.2.3.4")) == "1.2.3.4"
    assert client_ip(_request(xff="")) == "10.0.0.5"
    assert client_ip(_request(xff="not-an-ip")) == "10.0.0.5"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_behind_two_proxies_the_second_entry_from_the_right():
    assert client_ip(_request(xff="6.6.6.6, 1.2.3.4, 10.1.1.1")) == "1.2.3.4"


def test_ipv6_clients_are_limited_per_64_block():
    one = client_ident(_request(remote="2001:db8:1:2::1"))
    other = client_ident(_request(remote="2001:db8:1:2:ffff::9"))
    assert one == other == "2001:db8:1:2::/64"
    assert client_ident(_request(remote="::ffff:1.2.3.4")) == "1.2.3.4"


def test_rate_syntax():
    assert Rate.parse("60/min") == Rate(60, 60)
    assert Rate.parse("10/10min") == Rate(10, 600)
    assert Rate.parse("5/hours") == Rate(5, 3600)
    assert Rate.parse("100/day") == Rate(100, 86400)
    with pytest.raises(ValueError):
        Rate.parse("lots")


# --- intake ------------------------------------------------------------------------------------


@pytest.fixture
def intake_key(tenant_a, make_staff) -> str:
    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        return customer_settings.intake_key_rotate(tenant=tenant_a)


def test_hundred_wrong_intake_keys_from_one_address_hit_the_limit(tenant_a, intake_key):
    """Today's defaults: each wrong key had its own bucket, so all 100 got 401."""
    client = APIClient()
    codes = []
    for i in range(100):
        response = client.post(
            "/api/v1/intake/",
            {"name": "x", "phone": "13812345678"},
            format="json",
            HTTP_X_INTAKE_KEY=f"ik_wrong_{i}",
            HTTP_X_FORWARDED_FOR=_xff(i),
        )
        codes.append(response.status_code)
        if response.status_code == 429:
            last = response
    assert codes[:60] == [401] * 60
    assert codes[60:] == [429] * 40
    assert last.json()["detail"] and int(last["Retry-After"]) >= 1
    # the real key, from the same address, is blocked as well: the address is what's limited
    blocked = client.post(
        "/api/v1/intake/", {"name": "x", "phone": "13812345678"}, format="json", HTTP_X_INTAKE_KEY=intake_key
    )
    assert blocked.status_code == 429


@override_settings(RATE_LIMITS=LIMITS)
def test_another_address_is_not_blocked_by_someone_elses_failures(tenant_a, intake_key):
    for i in range(25):
        APIClient().post("/api/v1/intake/", {}, format="json", HTTP_X_INTAKE_KEY=f"ik_bad{i}")
    other = APIClient(REMOTE_ADDR="192.0.2.77", HTTP_X_INTAKE_KEY=intake_key)
    response = other.post("/api/v1/intake/", {"name": "林涛", "phone": "13812345678"}, format="json")
    assert response.status_code == 201


@override_settings(RATE_LIMITS={**LIMITS, "intake_key": "3/h", "intake_ip": "100/h"})
def test_intake_key_is_limited_across_addresses(tenant_a, intake_key):
    codes = [
        APIClient(REMOTE_ADDR=f"192.0.2.{i}", HTTP_X_INTAKE_KEY=intake_key)
        .post("/api/v1/intake/", {"name": "x", "phone": f"1381234567{i}"}, format="json")
        .status_code
        for i in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
    with tenant_context(tenant_a):
        assert Lead.objects.count() == 3


@override_settings(RATE_LIMITS=LIMITS, TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_each_real_client_has_its_own_bucket(tenant_a, intake_key):
    def post(xff: str) -> int:
        return (
            APIClient()
            .post("/api/v1/intake/", {}, format="json", HTTP_X_INTAKE_KEY="ik_bad", HTTP_X_FORWARDED_FOR=xff)
            .status_code
        )

    # the attacker prepends a fresh fake address each time; the proxy appended the real one
    assert [post(f"6.6.6.{i}, 198.51.100.1") for i in range(22)][-2:] == [429, 429]
    assert post("198.51.100.2") == 401  # another customer behind the same proxy


# --- pages -------------------------------------------------------------------------------------


def _assert_rate_limited_page(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "请求过于频繁" in response.content.decode()


@override_settings(RATE_LIMITS=LIMITS)
def test_progress_page_limit_holds_when_the_forwarded_header_varies(client, tenant_a, manager_a):
    from projects.services.share import share_link_create
    from tests.projects.factories import ProjectFactory

    with tenant_context(tenant_a):
        _, token = share_link_create(
            tenant=tenant_a, project=ProjectFactory(tenant=tenant_a), created_by=manager_a
        )
    url = reverse("projects:progress", args=[token])
    codes = [client.get(url, HTTP_X_FORWARDED_FOR=_xff(i)).status_code for i in range(5)]
    assert codes == [200] * 5
    _assert_rate_limited_page(client.get(url, HTTP_X_FORWARDED_FOR=_xff(99)))


@override_settings(RATE_LIMITS=LIMITS)
def test_referral_join_limit_holds_when_the_forwarded_header_varies(client, tenant_a):
    from referrals.services import accounts as referral_accounts
    from tests.customers.factories import CustomerFactory

    with tenant_context(tenant_a):
        account = referral_accounts.referral_account_ensure(
            tenant=tenant_a, customer=CustomerFactory(tenant=tenant_a)
        )
    url = reverse("referrals:join", kwargs={"tenant_slug": tenant_a.slug, "code": account.code})
    codes = [
        client.post(url, {"name": "x", "phone": "12345"}, HTTP_X_FORWARDED_FOR=_xff(i)).status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 400]
    _assert_rate_limited_page(
        client.post(url, {"name": "x", "phone": "12345"}, HTTP_X_FORWARDED_FOR="1.1.1.1")
    )


@override_settings(RATE_LIMITS=LIMITS)
def test_aftercare_public_page_and_api_share_one_limit_per_address(client, db):
    codes = [
        client.post("/aftercare/report/not-a-token/", {}, HTTP_X_FORWARDED_FOR=_xff(i)).status_code
        for i in range(5)
    ]
    assert codes == [404] * 5
    _assert_rate_limited_page(
        client.post("/aftercare/report/not-a-token/", {}, HTTP_X_FORWARDED_FOR="1.1.1.1")
    )
    api = APIClient().post(
        "/api/v1/surveys/answer/not-a-token/", {"score": 9}, format="json", HTTP_X_FORWARDED_FOR="1.1.1.2"
    )
    assert api.status_code == 429 and api["Retry-After"] and api.json()["detail"]


# --- login -------------------------------------------------------------------------------------


@override_settings(RATE_LIMITS=LIMITS)
def test_login_failures_are_limited_per_address_across_usernames(client, tenant_a, make_staff):
    """django-axes locks (username, address) pairs only: one address could try every username."""
    victim = make_staff(tenant_a, Role.MANAGER)
    for i in range(8):
        response = client.post(
            "/accounts/login/", {"username": f"guess{i}", "password": "123456"}, HTTP_X_FORWARDED_FOR=_xff(i)
        )
        assert response.status_code == 200  # each username failed once: axes alone never locks
    response = client.post("/accounts/login/", {"username": victim.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert "锁定" in response.content.decode()
    assert "_auth_user_id" not in client.session
    other = client.post(
        "/accounts/login/",
        {"username": victim.username, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR="192.0.2.9",
    )
    assert other.status_code == 302  # another address is unaffected


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_axes_records_the_same_client_address(client, tenant_a, make_staff):
    from axes.models import AccessAttempt

    user = make_staff(tenant_a, Role.SALES)
    client.post(
        "/accounts/login/",
        {"username": user.username, "password": "wrong"},
        HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4",
    )
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["198.51.100.4"]
