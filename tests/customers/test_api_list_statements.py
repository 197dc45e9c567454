"""Compiled list statements reused per request shape (crm/api/compiled.py): same bytes, live rows."""

from __future__ import annotations

import base64
import datetime
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import override_settings

from crm.api.pagination import KeysetPagination
from crm.models import Role
from crm.tenancy import tenant_context
from customers.api.customers import LIST_STATEMENTS
from customers.models import Customer, CustomerSettings, SalesVisibility
from tests.customers.factories import CustomerFactory

URLS = (
    "/api/v1/customers/",
    "/api/v1/customers/?budget_tier=high&ordering=-budget_fen&q=客户",
    "/api/v1/customers/?page_size=3&lifecycle=lead&is_local=true",
)


@pytest.fixture(autouse=True)
def _no_statements():
    LIST_STATEMENTS.clear()
    yield
    LIST_STATEMENTS.clear()


def _customers(tenant, count: int = 8, **extra) -> None:
    with tenant_context(tenant):
        for i in range(count):
            CustomerFactory(
                tenant=tenant,
                budget_fen=300_000 + i * 100_000,
                is_local=bool(i % 2),
                style_preferences=["nordic"] if i % 2 else [],
                **extra,
            )


@pytest.mark.parametrize("prepared", [True, False])
def test_a_repeated_first_page_is_byte_identical_and_reads_current_rows(
    tenant_a, manager_a, token_client, prepared
):
    _customers(tenant_a)
    client = token_client(manager_a)
    with override_settings(API_PREPARED_STATEMENTS=prepared):
        first = {url: client.get(url) for url in URLS}
        assert len(LIST_STATEMENTS._entries()) == len(URLS)  # one compiled statement per shape
        for url, response in first.items():
            assert response.status_code == 200
            for _ in range(3):  # the later ones run the compiled (and, if allowed, prepared) statement
                again = client.get(url)
                assert again.content == response.content, url
        # The statement is reused, never its rows: a new customer is listed at once.
        _customers(tenant_a, count=1, name="新客户", lifecycle="lead")
        body = client.get(URLS[0]).json()
    assert body["count"] == first[URLS[0]].json()["count"] + 1
    assert body["results"][0]["name"] == "新客户"


def test_the_statement_is_prepared_on_the_connection(tenant_a, manager_a, token_client):
    _customers(tenant_a)
    client = token_client(manager_a)
    for _ in range(3):
        assert client.get(URLS[0]).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "customers_customer"' in statement for statement in prepared), prepared


def test_shapes_that_depend_on_more_than_the_request_are_built_every_time(
    tenant_a, manager_a, make_staff, token_client, api_as
):
    """Sales users (their narrowing may follow a tenant setting), owner/designer (checked against
    the staff table), saved segments, "days ago" filters, and their cursor pages: never compiled
    for reuse (cursor pages of pure shapes are: the tests below)."""
    _customers(tenant_a)
    sales = make_staff(tenant_a, Role.SALES)
    manager = token_client(manager_a)
    for url in (
        f"/api/v1/customers/?owner={sales.pk}",
        "/api/v1/customers/?silent_days=3",
        "/api/v1/customers/?updated_since=2020-01-01T00:00:00Z",
        manager.get("/api/v1/customers/?page_size=2&updated_since=2020-01-01T00:00:00Z").json()["next"],
        manager.get("/api/v1/customers/?page_size=2").json()["next"],  # …
    ):
        assert manager.get(url).status_code == 200, url
    assert client_shapes() == 2  # … only the plain page_size=2 first page and its cursor page
    assert api_as(sales).get(URLS[0]).status_code == 200
    assert client_shapes() == 2


def client_shapes() -> int:
    return len(LIST_STATEMENTS._entries())


def test_sales_visibility_setting_and_role_changes_apply_at_once(tenant_a, make_staff, api_as):
    _customers(tenant_a)  # nobody's: sales see them (unowned)
    owner = make_staff(tenant_a, Role.SALES)
    _customers(tenant_a, count=3, owner=owner)
    user = make_staff(tenant_a, Role.SALES)
    client = api_as(user)
    assert client.get(URLS[0]).json()["count"] == 8
    with tenant_context(tenant_a):
        CustomerSettings.objects.update_or_create(
            tenant=tenant_a, defaults={"sales_visibility": SalesVisibility.ALL}
        )
    assert client.get(URLS[0]).json()["count"] == 11
    with tenant_context(tenant_a):
        CustomerSettings.objects.filter(tenant=tenant_a).update(sales_visibility=SalesVisibility.OWN)
    assert client.get(URLS[0]).json()["count"] == 8
    user.roles = [Role.MANAGER]
    user.save()
    assert client.get(URLS[0]).json()["count"] == 11  # compiled for the manager shape
    assert client.get(URLS[0]).json()["count"] == 11  # and reused
    user.roles = [Role.SALES]
    user.save()
    assert client.get(URLS[0]).json()["count"] == 8  # the roles are part of the shape


def test_statements_of_one_tenant_never_answer_another(
    tenant_a, tenant_b, manager_a, make_staff, token_client
):
    _customers(tenant_a, count=5)
    _customers(tenant_b, count=2)
    client_a, client_b = token_client(manager_a), token_client(make_staff(tenant_b, Role.MANAGER))
    for _ in range(2):
        ids_a = {row["id"] for row in client_a.get(URLS[0]).json()["results"]}
        ids_b = {row["id"] for row in client_b.get(URLS[0]).json()["results"]}
        assert len(ids_a) == 5 and len(ids_b) == 2 and not ids_a & ids_b
    with tenant_context(tenant_b):
        assert ids_b == set(Customer.objects.values_list("pk", flat=True))


# --------------------------------------------------------------------------- cursor pages

ORDERINGS = [
    None,
    *(
        f"{sign}{name}"
        for name in ("created_at", "budget_fen", "last_touch_at", "name", "value_fen")
        for sign in ("", "-")
    ),
]


def _ties_and_nulls(tenant) -> None:
    """Eleven customers with ties and NULLs in every orderable column (two share a created_at)."""
    moment = datetime.datetime(2026, 3, 1, 9, 30, tzinfo=datetime.UTC)
    _customers(tenant, count=11)
    with tenant_context(tenant):
        for i, pk in enumerate(Customer.objects.order_by("pk").values_list("pk", flat=True)):
            Customer.objects.filter(pk=pk).update(
                name=["张三", "李四", "张三"][i % 3],
                budget_fen=None if i % 4 == 0 else 100_000 * (i % 3),
                value_fen=[0, 500, 0, 1_200][i % 4],
                last_touch_at=None if i % 3 == 0 else moment + datetime.timedelta(hours=i % 2),
                created_at=moment - datetime.timedelta(days=i // 2),
            )


def _walk(client, first: str) -> list[tuple[str, bytes]]:
    """Every page forward from ``first``, then back along ``previous`` links to the first page."""
    visited = []
    url = first
    while url:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        visited.append((url, response.content))
        url = response.json()["next"]
    url = json.loads(visited[-1][1])["previous"]
    while url:
        response = client.get(url)
        assert response.status_code == 200, (url, response.content)
        visited.append((url, response.content))
        url = response.json()["previous"]
    return visited


@pytest.mark.parametrize("prepared", [True, False])
@pytest.mark.parametrize("page_size", [2, 3])
def test_every_cursor_page_forward_and_back_is_byte_identical_to_the_built_page(
    tenant_a, manager_a, token_client, monkeypatch, page_size, prepared
):
    _ties_and_nulls(tenant_a)
    client = token_client(manager_a)
    reused = []
    compiled_page = KeysetPagination.paginate_compiled

    def spy(self, compiled, request):
        page = compiled_page(self, compiled, request)
        reused.append(compiled.cursor is not None and page is not None)
        return page

    monkeypatch.setattr(KeysetPagination, "paginate_compiled", spy)
    for ordering in ORDERINGS:
        first = f"/api/v1/customers/?page_size={page_size}" + (f"&ordering={ordering}" if ordering else "")
        with monkeypatch.context() as cold:  # no statement ever kept: every page built as before
            cold.setattr(LIST_STATEMENTS, "get", lambda key: None)
            cold.setattr(LIST_STATEMENTS, "put", lambda key, page: None)
            built = _walk(client, first)
        rows = [row["id"] for _, body in built[: len(built) // 2 + 1] for row in json.loads(body)["results"]]
        assert len(rows) == len(set(rows)) == 11, ordering  # a real walk over every customer
        with override_settings(API_PREPARED_STATEMENTS=prepared):
            for _ in range(3):  # compiles, then reuses (and prepares) each page's statement
                reused.clear()
                for url, body in built:
                    assert client.get(url).content == body, (ordering, url)
        assert reused and all(reused[1:]), ordering  # the last round ran every cursor page compiled
    keys = LIST_STATEMENTS._entries()
    assert any(key[-1] is not None and key[-1][1] for key in keys)  # backward statements
    assert any(key[-1] is not None and not key[-1][1] for key in keys)  # forward ones


def test_a_past_the_end_cursor_and_bad_cursors_behave_as_built(
    tenant_a, manager_a, token_client, monkeypatch
):
    _customers(tenant_a, count=5)
    client = token_client(manager_a)
    second = client.get("/api/v1/customers/?page_size=2").json()["next"]
    client.get(second)  # compiled
    assert client.get(second).status_code == 200  # reused
    with tenant_context(tenant_a):  # every row from the cursor on is gone: past the end
        Customer.objects.filter(pk__in=[c["id"] for c in client.get(second).json()["results"]]).delete()
        last = Customer.objects.order_by("created_at", "id").first()
        Customer.objects.filter(pk=last.pk).delete()
    answers = {}
    for cache in (True, False):
        with monkeypatch.context() as patch:
            if not cache:
                patch.setattr(LIST_STATEMENTS, "get", lambda key: None)
            answers[cache] = client.get(second).content
    assert answers[True] == answers[False]
    body = json.loads(answers[True])
    assert body["results"] == [] and body["count"] == 2 and body["next"] is body["previous"] is None
    # A tampered position, another ordering's cursor, garbage: 400 whether or not a statement is kept.
    encoded = parse_qs(urlsplit(second).query)["cursor"][0]
    payload = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    tampered = {**payload, "p": ["not a time", payload["p"][1]]}
    foreign = {**payload, "o": ["name", "pk"]}
    for bad in (tampered, foreign):
        token = base64.urlsafe_b64encode(json.dumps(bad).encode()).decode().rstrip("=")
        url = f"/api/v1/customers/?page_size=2&cursor={token}"
        with monkeypatch.context() as patch:
            patch.setattr(LIST_STATEMENTS, "get", lambda key: None)
            built = client.get(url)
        assert built.status_code == 400 and "cursor" in built.content.decode()
        for _ in range(2):
            response = client.get(url)
            assert (response.status_code, response.content) == (400, built.content)
    assert client.get("/api/v1/customers/?page_size=2&cursor=garbage!!").status_code == 400


def test_cursor_statements_of_one_tenant_or_user_never_answer_another(
    tenant_a, tenant_b, manager_a, make_staff, token_client
):
    _customers(tenant_a, count=5)
    _customers(tenant_b, count=5)
    client_a = token_client(manager_a)
    other_a = token_client(make_staff(tenant_a, Role.MANAGER))
    client_b = token_client(make_staff(tenant_b, Role.MANAGER))
    cursor_a = client_a.get("/api/v1/customers/?page_size=2").json()["next"]
    ids_a = {row["id"] for row in client_a.get(cursor_a).json()["results"]}
    # The same cursor in another tenant reads that tenant's rows (here: ones created after tenant A's).
    for _ in range(2):
        assert not {row["id"] for row in client_b.get(cursor_a).json()["results"]} & ids_a
        assert {row["id"] for row in other_a.get(cursor_a).json()["results"]} == ids_a
    keys = [key for key in LIST_STATEMENTS._entries() if key[-1] is not None]
    assert len({(key[0], key[1]) for key in keys}) == 3  # one statement per tenant and user
