"""One rule for bad list filters in every app: 400 naming the parameter, with a stable code.

Before, projects ignored a bad ``stage``/``staff`` and aftercare and referrals silently dropped a
bad id and answered with everything.
"""

from __future__ import annotations

import pytest

from crm.tenancy import tenant_context
from crm.validators import BIGINT_MAX as MAX_ID
from referrals.services import referrals as referral_services
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

BAD_FILTERS = [
    ("/api/v1/customers/", "budget_tier", "huge", "invalid_choice"),
    ("/api/v1/projects/", "stage", "nonsense", "invalid_choice"),
    ("/api/v1/projects/", "staff", "abc", "invalid"),
    ("/api/v1/projects/", "overdue", "maybe", "invalid"),
    ("/api/v1/daily-logs/", "project", "abc", "invalid"),
    ("/api/v1/change-orders/", "project", "-1", "min_value"),
    ("/api/v1/aftercare/plans/", "project", "abc", "invalid"),
    ("/api/v1/aftercare/plans/", "status", "nonsense", "invalid_choice"),
    ("/api/v1/aftercare/visits/", "technician", "x", "invalid"),
    ("/api/v1/aftercare/tickets/", "active", "maybe", "invalid"),
    ("/api/v1/surveys/", "customer", "abc", "invalid"),
    ("/api/v1/referrals/", "referrer", "abc", "invalid"),
    ("/api/v1/referrals/", "status", "nonsense", "invalid_choice"),
    ("/api/v1/referrals/ledger/", "account", "abc", "invalid"),
    ("/api/v1/referral-accounts/", "customer", "abc", "invalid"),
    ("/api/v1/consents/", "channel", "pigeon", "invalid_choice"),
]


@pytest.mark.parametrize(("url", "field", "value", "code"), BAD_FILTERS)
def test_bad_filter_value_is_400_naming_the_field(token_client, admin_a, url, field, value, code):
    response = token_client(admin_a).get(url, {field: value})
    assert response.status_code == 400, (url, field, response.status_code)
    body = response.json()
    assert list(body["errors"]) == [field] and body["errors"][field]
    assert body["codes"] == {field: [code]}


@pytest.mark.parametrize("url", ["/api/v1/aftercare/plans/", "/api/v1/referrals/", "/api/v1/daily-logs/"])
def test_id_beyond_bigint_is_400_not_a_database_error(token_client, admin_a, url):
    field = "referrer" if "referrals" in url else "project"
    response = token_client(admin_a).get(url, {field: str(MAX_ID + 1)})
    assert response.status_code == 400
    assert response.json()["codes"] == {field: ["max_value"]}


def test_good_filter_values_still_narrow_the_list(token_client, admin_a, tenant_a):
    with tenant_context(tenant_a):
        alice, bob, carol = (CustomerFactory(tenant=tenant_a) for _ in range(3))
        referral_services.referral_create(tenant=tenant_a, referrer=alice, referred=bob, source="manual")
        referral_services.referral_create(tenant=tenant_a, referrer=carol, referred=alice, source="manual")
    client = token_client(admin_a)
    rows = client.get("/api/v1/referrals/", {"referrer": alice.pk}).json()["results"]
    assert [row["referred"] for row in rows] == [bob.pk]
    assert len(client.get("/api/v1/referrals/").json()["results"]) == 2
    assert client.get("/api/v1/referrals/", {"status": "lost"}).json()["results"] == []
