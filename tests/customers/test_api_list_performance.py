"""The hot customer list: statements per request, the lean JSON, keyset pages (issue 12)."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from crm.api.pagination import KeysetPagination
from crm.models import ApiToken, Role
from crm.services import api_token_revoke
from crm.tenancy import tenant_context
from customers.api import CustomerSerializer
from customers.models import Customer
from tests.customers.factories import CustomerFactory


def _varied_customers(tenant, owner, designer, count: int = 12) -> None:
    """Customers exercising every representation: decimals, lists, nulls, FKs, anonymised, ties."""
    with tenant_context(tenant):
        for i in range(count):
            CustomerFactory(
                tenant=tenant,
                community="万科城市花园" if i % 2 else "",
                area_sqm=Decimal("89.50") if i % 3 == 0 else None,
                budget_fen=None if i % 4 == 0 else 50_000 * (i % 5 + 1),
                style_preferences=["nordic", "japanese"] if i % 2 else [],
                tags=["老客户"] if i % 5 == 0 else [],
                owner=owner if i % 2 else None,
                designer=designer if i % 3 == 0 else None,
                is_local=bool(i % 2),
                email=f"family{i}@example.com" if i % 4 != 1 else "",  # masked where the phone is
            )
        some = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
        Customer.objects.filter(pk=some[0]).update(anonymised_at=timezone.now())
        Customer.objects.filter(pk__in=some[1:4]).update(
            created_at=timezone.now() - datetime.timedelta(days=3),  # ties on the leading key
            next_follow_up_at=timezone.now() + datetime.timedelta(days=1),
        )


def _serializer_json(tenant, user) -> list[dict]:
    """The serializer's output for the customers ``user`` may see (sales visibility rule)."""
    from customers.selectors import customers_for_list

    with tenant_context(tenant):
        customers = list(customers_for_list(tenant=tenant, user=user))
        data = CustomerSerializer(customers, many=True, context={"request": SimpleNamespace(user=user)}).data
    return json.loads(JSONRenderer().render(data))


@pytest.mark.parametrize("role", [Role.MANAGER, Role.DESIGNER])
def test_lean_list_json_equals_the_serializer(tenant_a, make_staff, api_as, role):
    user = make_staff(tenant_a, role)
    # The designer is on some customers' work (sees those, full numbers), the manager on none.
    designer = user if role == Role.DESIGNER else make_staff(tenant_a, Role.DESIGNER)
    _varied_customers(tenant_a, make_staff(tenant_a, Role.SALES), designer)
    response = api_as(user).get("/api/v1/customers/?page_size=100")
    assert response.status_code == 200
    body = response.json()
    expected = _serializer_json(tenant_a, user)
    assert len(expected) == (12 if role == Role.MANAGER else 4)
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == len(expected) and body["next"] is None and body["previous"] is None
    assert body["results"] == expected


def _statements(client, url: str) -> list[str]:
    client.get(url)  # warm: token resolved and cached, last_used_at written
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return [query["sql"] for query in captured.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_api_list_is_four_statements_with_transaction_control(tenant_a, manager_a, token_client):
    """BEGIN, set_config(tenant), one SELECT (page + capped count), COMMIT — filtered or not, deep or not."""
    with tenant_context(tenant_a):
        for i in range(40):
            CustomerFactory(tenant=tenant_a, budget_fen=100_000 + i * 10_000)
    client = token_client(manager_a)
    deep = client.get("/api/v1/customers/?page_size=5").json()["next"]
    for url in (
        "/api/v1/customers/",
        "/api/v1/customers/?budget_tier=high&ordering=-budget_fen&q=客户",
        deep,
    ):
        statements = _statements(client, url)
        assert len(statements) == 4, (url, statements)
        assert statements[0] == "BEGIN" and statements[-1] == "COMMIT"
        assert "set_config" in statements[1]
        assert "crm_user" not in statements[2]  # no join the API does not return


def test_api_list_query_count_assertion(tenant_a, manager_a, token_client, django_assert_num_queries):
    """Inside the test transaction the request's atomic block is a savepoint (SAVEPOINT/RELEASE
    instead of BEGIN/COMMIT, plus the tenant reset an inner block needs): still constant."""
    with tenant_context(tenant_a):
        for _ in range(30):
            CustomerFactory(tenant=tenant_a)
    client = token_client(manager_a)
    client.get("/api/v1/customers/")
    with django_assert_num_queries(5):
        assert client.get("/api/v1/customers/").status_code == 200
    with django_assert_num_queries(5):
        assert client.get("/api/v1/customers/?page_size=200&lifecycle=lead").status_code == 200


def test_revoked_token_is_refused_at_once_though_cached(tenant_a, manager_a, token_client):
    client = token_client(manager_a)
    assert client.get("/api/v1/customers/").status_code == 200  # now cached
    with tenant_context(tenant_a):
        token = ApiToken.objects.get()
        api_token_revoke(tenant=tenant_a, token=token, revoked_by=manager_a)
    assert client.get("/api/v1/customers/").status_code == 401


def test_deactivated_user_and_role_change_apply_at_once_though_cached(tenant_a, make_staff, api_as):
    user = make_staff(tenant_a, Role.SALES)
    client = api_as(user)
    assert client.get("/api/v1/customers/").status_code == 200
    user.roles = [Role.DESIGNER]
    user.save()
    assert client.get("/api/v1/tokens/").status_code == 403
    user.is_active = False
    user.save()
    assert client.get("/api/v1/customers/").status_code == 401


def _walk(client, url: str) -> tuple[list[int], list[dict]]:
    ids, bodies = [], []
    while url:
        body = client.get(url).json()
        bodies.append(body)
        ids.extend(row["id"] for row in body["results"])
        url = body["next"]
    return ids, bodies


@pytest.mark.parametrize("ordering", ["", "budget_fen", "-budget_fen", "name", "-last_touch_at"])
def test_keyset_pages_cover_every_row_once_in_order_both_ways(tenant_a, manager_a, token_client, ordering):
    with tenant_context(tenant_a):
        for i in range(23):
            CustomerFactory(
                tenant=tenant_a,
                name=f"客户{i % 4}",  # duplicates: the pk breaks ties
                budget_fen=None if i % 5 == 0 else 100_000 * (i % 3 + 1),  # NULLs and ties
            )
        Customer.objects.filter(pk__in=Customer.objects.order_by("pk").values("pk")[:6]).update(
            created_at=timezone.now() - datetime.timedelta(days=1)
        )
        order = [ordering or "-created_at", "-id" if (ordering or "-").startswith("-") else "id"]
        expected = list(Customer.objects.order_by(*order).values_list("pk", flat=True))
    client = token_client(manager_a)
    query = f"?page_size=4&ordering={ordering}" if ordering else "?page_size=4"
    ids, bodies = _walk(client, f"/api/v1/customers/{query}")
    assert ids == expected
    assert all(body["count"] == 23 for body in bodies) and len(bodies) == 6
    assert bodies[0]["previous"] is None and bodies[-1]["next"] is None
    back, url = [], bodies[-1]["previous"]
    while url:
        body = client.get(url).json()
        back = [row["id"] for row in body["results"]] + back
        url = body["previous"]
    assert back + [row["id"] for row in bodies[-1]["results"]] == expected


def test_count_is_capped_and_bad_cursors_are_400(tenant_a, manager_a, token_client, monkeypatch):
    monkeypatch.setattr(KeysetPagination, "count_cap", 5)
    with tenant_context(tenant_a):
        for _ in range(8):
            CustomerFactory(tenant=tenant_a)
    client = token_client(manager_a)
    first = client.get("/api/v1/customers/?page_size=3").json()
    assert first["count"] == 5
    assert client.get("/api/v1/customers/?lifecycle=signed").json()["count"] == 0
    for cursor in ("garbage", first["next"].split("cursor=")[1]):
        response = client.get(f"/api/v1/customers/?ordering=name&cursor={cursor}")
        assert response.status_code == 400
        assert "cursor" in response.json()["errors"]


def test_html_list_asks_no_auth_permission_query(tenant_a, manager_a, session_client):
    """``{{ perms.crm.manage_tokens }}`` in base.html is answered by the role table."""
    with tenant_context(tenant_a):
        for _ in range(5):
            CustomerFactory(tenant=tenant_a)
    client = session_client(manager_a)
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/customers/")
    assert response.status_code == 200
    assert "API 令牌" in response.content.decode()  # the manager still sees the link
    assert not [q["sql"] for q in captured.captured_queries if "auth_permission" in q["sql"]]


def test_keyset_pages_by_an_annotation(tenant_a):
    """Orderings over annotations (no model field) page too; cursor values pass through as JSON."""
    from django.db.models import F
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    with tenant_context(tenant_a):
        for i in range(7):
            CustomerFactory(tenant=tenant_a, budget_fen=10_000 * (i % 3))
        base = Customer.objects.annotate(doubled=F("budget_fen") * 2).order_by("-doubled", "-id")
        expected = list(base.values_list("pk", flat=True))
        seen, url = [], "/api/v1/customers/?page_size=3"
        while url:
            pager = KeysetPagination()
            page = pager.paginate_queryset(base, Request(APIRequestFactory().get(url)))
            seen.extend(row.pk for row in page)
            url = pager.get_paginated_response([]).data["next"]
    assert seen == expected
