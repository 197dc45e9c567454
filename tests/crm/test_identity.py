"""One identity per request: a token never mixes with a session (issue 9 §1, the outside attack).

Tenant A's manager issues a token for A's sales user; tenant B's manager, logged in to the
browser, replays that token. Every line of the reproduction is here and was served (or was a
500) before the middleware resolved exactly one principal.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import ApiToken, Role
from crm.services import api_token_create, api_token_revoke
from crm.tenancy import tenant_context
from customers.models import CustomerAuditLog
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


@pytest.fixture
def manager_b(tenant_b, make_staff):
    return make_staff(tenant_b, Role.MANAGER)


@pytest.fixture
def customers_a(tenant_a):
    with tenant_context(tenant_a):
        return [CustomerFactory(tenant=tenant_a, name=f"安居客户{n}") for n in range(3)]


@pytest.fixture
def sales_token_a(tenant_a, manager_a, sales_a) -> str:
    """The stolen low-privilege credential: a token of A's sales user, issued by A's manager."""
    with tenant_context(tenant_a):
        _, plaintext = api_token_create(tenant=tenant_a, created_by=manager_a, name="官网表单", user=sales_a)
    return plaintext


@pytest.fixture
def browser_b(client, manager_b):
    """Tenant B's manager, logged in to the browser."""
    client.force_login(manager_b, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _auth(plaintext: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Token {plaintext}"}


def _assert_refused(response, *statuses: int) -> None:
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert set(response.json()) == {"detail", "errors"}


# --- the attack, line by line ------------------------------------------------------------------


def test_session_plus_foreign_token_cannot_list_customers_page(browser_b, sales_token_a, customers_a):
    response = browser_b.get("/customers/", **_auth(sales_token_a))
    _assert_refused(response, 400, 401)
    assert "安居客户" not in response.content.decode()


def test_session_plus_foreign_token_cannot_export_and_nothing_is_audited(
    browser_b, sales_token_a, customers_a, tenant_a
):
    response = browser_b.get("/customers/export/", **_auth(sales_token_a))
    _assert_refused(response, 400, 401)
    assert "安居客户" not in response.content.decode()
    with tenant_context(tenant_a):
        assert not CustomerAuditLog.objects.exists()


def test_session_plus_foreign_token_cannot_mint_a_managers_token(
    browser_b, sales_token_a, tenant_a, manager_a
):
    response = browser_b.post(
        "/settings/tokens/",
        {"name": "后门", "user": manager_a.pk, "scope_customers": "write"},
        **_auth(sales_token_a),
    )
    _assert_refused(response, 400, 401)
    assert "crm_" not in response.content.decode()
    with tenant_context(tenant_a):
        assert list(ApiToken.objects.values_list("name", flat=True)) == ["官网表单"]


@pytest.mark.parametrize("path", ["/customers/", "/settings/tokens/", "/"])
def test_session_plus_invalid_token_is_refused_not_500(browser_b, path):
    response = browser_b.get(path, HTTP_AUTHORIZATION="Token crm_nope_nothing")
    _assert_refused(response, 400, 401)


# --- under /api/ a token request is the token's user, never the session's -----------------------


def test_api_session_of_another_tenant_plus_token_is_401(browser_b, sales_token_a, customers_a):
    response = browser_b.get("/api/v1/customers/", **_auth(sales_token_a))
    _assert_refused(response, 401)
    assert "安居客户" not in response.content.decode()


def test_api_session_of_another_user_same_tenant_plus_token_is_401(
    client, manager_a, sales_token_a, customers_a
):
    """Same tenant, different users: the identities still disagree, so nothing is served."""
    client.force_login(manager_a, backend="django.contrib.auth.backends.ModelBackend")
    _assert_refused(client.get("/api/v1/me/", **_auth(sales_token_a)), 401)
    _assert_refused(
        client.post("/api/v1/tokens/", {"name": "x", "scopes": ["customers:read"]}, **_auth(sales_token_a)),
        401,
    )


def test_api_session_plus_invalid_or_revoked_token_is_401_json(
    browser_b, client, sales_token_a, tenant_a, manager_a, sales_a
):
    _assert_refused(browser_b.get("/api/v1/me/", HTTP_AUTHORIZATION="Token crm_nope_nothing"), 401)
    _assert_refused(browser_b.get("/api/v1/me/", HTTP_AUTHORIZATION="Bearer"), 401)
    with tenant_context(tenant_a):
        token = ApiToken.objects.get(name="官网表单")
        api_token_revoke(tenant=tenant_a, token=token, revoked_by=manager_a)
    client.force_login(sales_a, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/api/v1/me/", **_auth(sales_token_a))
    _assert_refused(response, 401)
    assert response.json()["detail"] == "API 令牌无效或已吊销。"


def test_api_token_request_acts_as_the_token_user(client, sales_a, sales_token_a):
    """A token and the session of the *same* user is one identity: served, as the token."""
    client.force_login(sales_a, backend="django.contrib.auth.backends.ModelBackend")
    me = client.get("/api/v1/me/", **_auth(sales_token_a))
    assert me.status_code == 200
    assert me.json()["username"] == sales_a.username
    # The sales user's roles apply, not a manager's: managing tokens stays forbidden.
    response = APIClient().post(
        "/api/v1/tokens/", {"name": "x", "scopes": ["customers:read"]}, format="json", **_auth(sales_token_a)
    )
    assert response.status_code == 403


def test_token_keyword_is_case_insensitive_and_refused_on_pages(client, sales_token_a, customers_a):
    response = client.get("/customers/", HTTP_AUTHORIZATION=f"bearer {sales_token_a}")
    _assert_refused(response, 400, 401)
    assert APIClient().get("/api/v1/me/", HTTP_AUTHORIZATION=f"bearer {sales_token_a}").status_code == 200


def test_other_authorization_schemes_do_not_disturb_pages(client, manager_a, customers_a):
    """A proxy's Basic auth is not a token: the page still runs as the session user."""
    client.force_login(manager_a, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/customers/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 200
    assert "安居客户" in response.content.decode()


def test_shell_never_shows_another_tenants_name_to_a_session(client, manager_b, tenant_a, manager_a):
    """A public page rendered inside tenant A (a share link) for B's logged-in manager shows B's shell."""
    from django.template import RequestContext, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = manager_b
    with tenant_context(tenant_a):
        html = Template("{{ current_tenant.name|default:'-' }}|{{ nav_items|length }}").render(
            RequestContext(request, {})
        )
    assert tenant_a.name not in html
    assert html == "-|0"
