"""Customer search ``q`` through ``customer_search_ids`` (SECURITY DEFINER, bypasses RLS; issue 12).

The function is the one place where the RLS wall is not the database's: its own tenant condition
is the only guard. So: under every setting (unset, empty, a tenant, another tenant, an unknown
tenant) it returns exactly what the plain filter returns under RLS (platform scope and broad
matches: ``NULL``, the caller filters plainly), and through the API no pattern (wildcards,
backslash, very long, phone digits) ever yields another tenant's row or a 500 — on every path:
ids, broad (plain, ordered, paged), two characters, phone digits through the phone-gram index.
"""

from __future__ import annotations

import itertools

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from crm.models import Role
from crm.tenancy import platform_scope, tenant_context
from customers import search
from customers.models import Customer
from customers.search import customer_search_q, phone_grams_query
from tests.customers.factories import CustomerFactory

# Names, communities and phones that overlap between the tenants, with LIKE metacharacters.
ROWS = [
    ("张伟", "万科城市花园", "+8613812345678"),
    ("张伟杰", "保利香槟国际", "+8613812349999"),
    ("王芳", "万科城市花园二期", "+8613900001234"),
    ("100%满意", "绿地_海珀", "+8613700000001"),
    ("路径\\反斜杠", "龙湖%春江", "+8613600000002"),
    ("Alice Wong", "Vanke garden", "+8613500000003"),
    ("alice wong", "VANKE GARDEN", "+8613500000004"),
    ("李娜", "", "+8613400000005"),
    ("赵六", "花园小区", "+86 138-1234-5678"),
    ("钱七", "城南花园", "010-5678 1234"),
    ("孙八", "", "13912345678"),
]
QUERIES = [
    "张伟",
    "万科城市花园",
    "城市花园二",
    "1234",
    "13812345678",
    "8613",
    "%",
    "%%%",
    "_",
    "___",
    "\\",
    "\\\\%",
    "100%",
    "绿地_海",
    "龙湖%春",
    "alice",
    "ALICE WONG",
    "vanke garden",
    "x" * 3,
    "张" * 5000,
    "1" * 2000,
    "'; DROP TABLE customers_customer; --",
    "李",
    "ab",
    "花园",
    "5678",
    "1234 5678",
    "12345678",
    "1381234",
    "0000",
    "00000001",
    "138-1234",
    "３４５６７",
    "010",
    "5678$",
]


def _load(tenant, suffix: str = "") -> set[int]:
    with tenant_context(tenant):
        return {
            CustomerFactory(tenant=tenant, name=name + suffix, community=community, phone=phone).pk
            for name, community, phone in ROWS
        }


def _plain_q(text: str) -> Q:
    """The search as it was before the function (and still is on SQLite): the meaning of ``q``."""
    digits = "".join(ch for ch in text if ch.isdigit())
    condition = Q(name__icontains=text) | Q(community__icontains=text)
    if len(digits) >= 4:
        condition |= Q(phone__contains=digits)
    return condition


@pytest.fixture
def two_tenants(tenant_a, tenant_b):
    return _load(tenant_a), _load(tenant_b, suffix="乙")


def _lookups(text: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        customer_search_q(text)
    return [query["sql"] for query in captured.captured_queries]


def test_search_looks_up_ids_for_three_characters_and_more(tenant_a):
    with tenant_context(tenant_a):
        assert len(_lookups("万科城")) == 1 and "customer_search_ids" in _lookups("万科城")[0]
        assert _lookups("万科") == []  # no trigram: the plain condition, no statement


def test_phone_grams_query():
    assert phone_grams_query("1234") == "'1234':*"
    assert phone_grams_query("12345") == "'12345'"
    assert phone_grams_query("13900012") == "'13900' & '39000' & '90001' & '00012'"
    assert phone_grams_query("11111111") == "'11111'"
    long = phone_grams_query("1" + "0123456789" * 200)
    assert long.count("&") == search.MAX_PHONE_GRAMS - 1


def test_phone_grams_index_condition_holds_for_every_contained_digit_run(tenant_a):
    """Whenever the phone contains the digits, its grams answer their tsquery (so the index
    never drops a match; LIKE rechecks the rest)."""
    phones = ["+8613812345678", "+86 138-1234-5678", "010-5678 1234", "1234", "12", "", "(0755)8888-0000"]
    with connection.cursor() as cursor:
        for phone in phones:
            digits_runs = {
                phone[i:j]
                for i, j in itertools.combinations(range(len(phone) + 1), 2)
                if j - i >= 4 and phone[i:j].isdigit()
            }
            for digits in digits_runs:
                cursor.execute(
                    "SELECT customer_phone_grams(%s) @@ %s::tsquery", [phone, phone_grams_query(digits)]
                )
                assert cursor.fetchone()[0] is True, (phone, digits)
        cursor.execute(
            "SELECT customer_phone_grams('+8613812345678') @@ %s::tsquery", [phone_grams_query("1381234599")]
        )
        assert cursor.fetchone()[0] is False


@pytest.mark.parametrize("text", QUERIES)
def test_function_results_equal_the_plain_filter_in_each_tenant(two_tenants, tenant_a, tenant_b, text):
    ids_a, ids_b = two_tenants
    for tenant, own in ((tenant_a, ids_a), (tenant_b, ids_b)):
        with tenant_context(tenant):
            found = set(Customer.objects.filter(customer_search_q(text)).values_list("pk", flat=True))
            expected = set(Customer.objects.filter(_plain_q(text)).values_list("pk", flat=True))
        assert found == expected, text
        assert found <= own


def test_function_results_equal_the_plain_filter_in_platform_scope(two_tenants):
    ids_a, ids_b = two_tenants
    with platform_scope("test: search across tenants like the RLS policy allows"):
        for text in QUERIES:
            found = set(Customer.objects.filter(customer_search_q(text)).values_list("pk", flat=True))
            expected = set(Customer.objects.filter(_plain_q(text)).values_list("pk", flat=True))
            assert found == expected, text
        assert set(Customer.objects.filter(customer_search_q("张伟")).values_list("pk", flat=True)) & ids_b


@pytest.mark.parametrize("text", QUERIES)
def test_api_search_never_returns_another_tenants_row(two_tenants, tenant_a, make_staff, api_as, text):
    ids_a, _ = two_tenants
    response = api_as(make_staff(tenant_a, Role.MANAGER)).get(
        "/api/v1/customers/", {"q": text, "page_size": 200}
    )
    assert response.status_code == 200, response.content[:300]
    found = {row["id"] for row in response.json()["results"]}
    with tenant_context(tenant_a):
        expected = set(Customer.objects.filter(_plain_q(text.strip())).values_list("pk", flat=True))
    assert found == expected
    assert found <= ids_a


def test_api_search_keeps_its_meaning(two_tenants, tenant_a, make_staff, api_as):
    client = api_as(make_staff(tenant_a, Role.MANAGER))

    def names(text: str) -> set[str]:
        response = client.get("/api/v1/customers/", {"q": text})
        assert response.status_code == 200
        return {row["name"] for row in response.json()["results"]}

    assert names("张伟") == {"张伟", "张伟杰"}
    assert names("城市花园") == {"张伟", "王芳"}  # community
    assert names("ALICE") == {"Alice Wong", "alice wong"}  # case-insensitive
    assert names("138 1234 5678") == {"张伟"}  # the digits of a phone written with spaces
    assert names("100%") == {"100%满意"}  # % is a character, not a wildcard
    assert names("绿地_海") == {"100%满意"}  # community "绿地_海珀"
    assert names("城市_园") == set() and names("张%杰") == set()  # _ and % are characters
    assert names("%%%") == set()
    assert names("\\反") == {"路径\\反斜杠"}


def _call(
    cursor, settings_sql: list[str], text: str, phone: str | None = None, cap: int | None = None
) -> set[int] | None:
    """The function's ids as a set (``None``: "not answered here, filter plainly")."""
    query = phone_grams_query(phone.strip("%")) if phone and phone.strip("%").isdigit() else None
    cursor.execute("BEGIN")
    try:
        for statement in settings_sql:
            cursor.execute(statement)
        cursor.execute("SELECT customer_search_ids(%s, %s, %s, %s)", [text, phone, query, cap])
        found = cursor.fetchone()[0]
        return None if found is None else set(found)
    finally:
        cursor.execute("ROLLBACK")


def _connect(role: str):
    params = connection.get_connection_params()
    params.update(user=role, password=role)
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", ["migration", "app"])
def test_function_under_every_tenant_setting(tenant_a, tenant_b, role):
    """A fresh session (nothing set), as the migration role and as the production app role."""
    ids_a, ids_b = _load(tenant_a), _load(tenant_b, suffix="乙")
    user = settings.DATABASES["default"]["USER"] if role == "migration" else settings.DATABASE_APP_ROLE
    every = "%"
    with _connect(user) as session, session.cursor() as cursor:
        assert _call(cursor, [], every) == set()  # unset
        assert _call(cursor, ["SELECT set_config('app.tenant_id', '', true)"], every) == set()
        assert _call(cursor, ["SELECT set_config('app.tenant_id', '999999999', true)"], every) == set()
        assert _call(cursor, [f"SELECT set_config('app.tenant_id', '{tenant_a.pk}', true)"], every) == ids_a
        assert _call(cursor, [f"SELECT set_config('app.tenant_id', '{tenant_b.pk}', true)"], every) == ids_b
        assert _call(cursor, ["SELECT set_config('app.platform_scope', 'off', true)"], every) == set()
        assert _call(cursor, ["SELECT set_config('app.platform_scope', 'ON', true)"], every) == set()
        # Platform scope (every tenant, like the policy's platform arm): not answered, RLS filters.
        assert _call(cursor, ["SELECT set_config('app.platform_scope', 'on', true)"], every) is None
        # After a transaction the settings are gone again (they are transaction-local).
        assert _call(cursor, [], every) == set()
        tenant = [f"SELECT set_config('app.tenant_id', '{tenant_a.pk}', true)"]
        assert _call(cursor, tenant, "%张伟%") < ids_a
        assert _call(cursor, tenant, "%", "%") == ids_a
        assert _call(cursor, tenant, "%", "%", cap=len(ids_a)) == ids_a
        assert _call(cursor, tenant, "%", "%", cap=len(ids_a) - 1) is None  # more than the cap
        assert _call(cursor, tenant, "%", "%1234%") == ids_a
        assert _call(cursor, tenant, "%张伟%", "%1234%", cap=1000) == _call(
            cursor, tenant, "%张伟%", "%1234%"
        )
        assert _call(cursor, tenant, "%" + "\\" * 3000 + "%") == set()
        assert _call(cursor, tenant, "%" + "_" * 3000 + "%") == set()
        # The function's result always equals what RLS lets this session see with the plain filter.
        for setting in (
            [],
            tenant,
            [f"SELECT set_config('app.tenant_id', '{tenant_b.pk}', true)"],
            ["SELECT set_config('app.platform_scope', 'on', true)"],
        ):
            cursor.execute("BEGIN")
            for statement in setting:
                cursor.execute(statement)
            cursor.execute(
                "SELECT id FROM customers_customer WHERE upper(name::text) LIKE upper(%s)"
                " OR upper(community::text) LIKE upper(%s) OR phone::text LIKE %s",
                ["%万科%", "%万科%", "%1234%"],
            )
            visible = {row[0] for row in cursor.fetchall()}
            cursor.execute("ROLLBACK")
            found = _call(cursor, setting, "%万科%", "%1234%")
            assert found == visible or (found is None and "platform_scope" in setting[0])


def test_function_is_owned_by_the_search_role_and_not_public(db):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT r.rolname, r.rolbypassrls, r.rolcanlogin, p.prosecdef, p.proconfig,
                   has_function_privilege('public', p.oid, 'EXECUTE')
            FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
            WHERE p.proname = 'customer_search_ids'
            """
        )
        owner, bypasses, can_login, definer, config, public = cursor.fetchone()
        assert (owner, bypasses, can_login, definer) == (settings.DATABASE_SEARCH_ROLE, True, False, True)
        assert config == ["search_path=pg_catalog, pg_temp"]
        assert public is False
        app_role = settings.DATABASE_APP_ROLE
        cursor.execute(
            "SELECT has_function_privilege(%s, 'customer_search_ids(text, text, text, integer)', 'EXECUTE'),"
            " pg_has_role(%s, %s, 'MEMBER')",
            [app_role, app_role, owner],
        )
        assert cursor.fetchone() == (True, False)  # the app role may call it, never become its owner
        # The owner reads six columns of one table, nothing else.
        cursor.execute(
            "SELECT has_table_privilege(%s, 'crm_apitoken', 'SELECT'),"
            " has_column_privilege(%s, 'customers_customer', 'address', 'SELECT'),"
            " has_column_privilege(%s, 'customers_customer', 'phone', 'SELECT'),"
            " has_column_privilege(%s, 'customers_customer', 'created_at', 'SELECT')",
            [owner, owner, owner, owner],
        )
        assert cursor.fetchone() == (False, False, True, True)


def test_the_owner_can_use_the_trigram_indexes_the_app_role_cannot(tenant_a):
    """Why the function exists: EXPLAIN as the RLS-bound role vs as the function's owner."""
    _load(tenant_a)
    query = "EXPLAIN (COSTS OFF) SELECT id FROM customers_customer WHERE upper(name::text) LIKE upper(%s)"
    with tenant_context(tenant_a), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(query, ["%张伟杰%"])
        bound = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(f'SET LOCAL ROLE "{settings.DATABASE_SEARCH_ROLE}"')
        cursor.execute(query, ["%张伟杰%"])
        owner = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("RESET ROLE")
    assert "cust_name_trgm_idx" not in bound
    assert "cust_name_trgm_idx" in owner and "Index Cond" in owner


def _walk(client, params: dict) -> tuple[list[int], int]:
    """Every row of a searched list, page by page through the ``next`` links, and its count."""
    response = client.get("/api/v1/customers/", params)
    assert response.status_code == 200, response.content[:300]
    body = response.json()
    count, ids = body["count"], [row["id"] for row in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        ids += [row["id"] for row in body["results"]]
    return ids, count


@pytest.mark.parametrize("cap", [1, 1000], ids=["broad-plain", "ids"])
@pytest.mark.parametrize("ordering", ["", "-budget_fen", "name", "-created_at"])
@pytest.mark.parametrize(
    "text", ["万科城市花园", "张伟", "城市花园", "1234", "13812345678", "花园", "%%%", "8613"]
)
def test_paged_search_equals_the_plain_filter_on_every_path(
    two_tenants, tenant_a, make_staff, api_as, monkeypatch, cap, ordering, text
):
    """Broad (the look-up says "too many": plain condition, ordered scan) or ids; any ordering,
    every page, the count: the same rows as the plain filter in the same order, never tenant B's."""
    ids_a, _ = two_tenants
    monkeypatch.setattr(search, "ID_CAP", cap)
    client = api_as(make_staff(tenant_a, Role.MANAGER))
    params = {"q": text, "page_size": 2} | ({"ordering": ordering} if ordering else {})
    found, count = _walk(client, params)
    with tenant_context(tenant_a):
        order = [ordering or "-created_at", "-pk" if (ordering or "-").startswith("-") else "pk"]
        expected = list(Customer.objects.filter(_plain_q(text)).order_by(*order).values_list("pk", flat=True))
    assert found == expected and count == len(expected)
    assert set(found) <= ids_a


def test_broad_look_up_is_none_and_the_list_filters_plainly(two_tenants, tenant_a, monkeypatch):
    monkeypatch.setattr(search, "ID_CAP", 1)
    with tenant_context(tenant_a):
        assert search.search_ids("万科城市花园", None) is None  # two rows > cap 1
        assert search.search_ids("保利香槟", None) is not None  # one row
        condition = customer_search_q("万科城市花园")
        sql = str(Customer.objects.filter(condition).query)
    assert "CASE WHEN" in sql and "END > 0" in sql and "customer_search_ids" not in sql


@pytest.mark.django_db(transaction=True)
def test_api_search_is_one_look_up_and_one_page_statement(tenant_a, manager_a, token_client):
    """Three characters or more: BEGIN, set_config, the look-up, the page with its count, COMMIT."""
    _load(tenant_a)
    client = token_client(manager_a)
    client.get("/api/v1/customers/")  # the token is cached from here on
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/v1/customers/", {"q": "万科城市"}).status_code == 200
    statements = [query["sql"] for query in captured.captured_queries]
    statements = statements[statements.index("BEGIN") :]
    assert len(statements) == 5, statements
    assert "customer_search_ids" in statements[2] and "COUNT(*)" in statements[3]
