"""Token scopes: read-only / read-write per module, never more than the creator or the user."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from crm.api.permissions import TokenScopePermission, token_module_of
from crm.models import ApiToken, Role, TokenModule, all_token_scopes
from crm.permissions import token_scopes_for
from crm.services import api_token_create
from crm.tenancy import tenant_context
from customers.models import AuditAction, CustomerAuditLog
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


def _client(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
    return client


def _mint(tenant, creator, user=None, scopes=None, **extra):
    with tenant_context(tenant):
        return api_token_create(
            tenant=tenant, created_by=creator, name="集成", user=user, scopes=scopes, **extra
        )


# --- who may mint what -----------------------------------------------------------------------


def test_manager_cannot_mint_a_token_for_the_admin(tenant_a, manager_a, admin_a, session_client):
    with pytest.raises(ValidationError) as raised:
        _mint(tenant_a, manager_a, user=admin_a, scopes=["customers:read"])
    assert raised.value.error_dict["user"][0].code == "exceeds_creator"

    client = session_client(manager_a)
    api = client.post(
        "/api/v1/tokens/", {"name": "x", "user": admin_a.pk, "scopes": ["customers:read"]}, "application/json"
    )
    assert api.status_code == 400 and "user" in api.json()["errors"]
    page = client.post("/settings/tokens/", {"name": "x", "user": admin_a.pk, "scope_customers": "read"})
    assert page.status_code == 200 and "crm_" not in page.content.decode()
    assert "不能为权限高于您的员工创建令牌" in page.content.decode()
    with tenant_context(tenant_a):
        assert not ApiToken.objects.exists()


def test_admin_may_mint_for_a_manager_and_manager_for_sales(tenant_a, admin_a, manager_a, sales_a):
    token, _ = _mint(tenant_a, admin_a, user=manager_a, scopes=["settings:write"])
    assert token.scopes == ["settings:write"]
    token, _ = _mint(tenant_a, manager_a, user=sales_a, scopes=["customers:write", "customers:read"])
    assert token.scopes == ["customers:write"]  # write includes read: one entry per module


def test_scopes_cannot_exceed_the_token_users_roles(tenant_a, manager_a, sales_a, session_client):
    with pytest.raises(ValidationError) as raised:
        _mint(tenant_a, manager_a, user=sales_a, scopes=["customers:read", "settings:write"])
    assert raised.value.error_dict["scopes"][0].code == "exceeds_user"
    response = session_client(manager_a).post(
        "/api/v1/tokens/",
        {"name": "x", "user": sales_a.pk, "scopes": ["settings:write"]},
        "application/json",
    )
    assert response.status_code == 400 and "scopes" in response.json()["errors"]


def test_unknown_or_empty_scopes_are_field_errors(manager_a, session_client):
    client = session_client(manager_a)
    for scopes in ([], ["customers:admin"], "customers:read"):
        response = client.post("/api/v1/tokens/", {"name": "x", "scopes": scopes}, "application/json")
        assert response.status_code == 400, scopes
        assert "scopes" in response.json()["errors"]


def test_a_token_cannot_mint_a_wider_token(tenant_a, manager_a):
    _, plaintext = _mint(tenant_a, manager_a, scopes=["settings:write", "customers:read"])
    client = _client(plaintext)
    wider = client.post("/api/v1/tokens/", {"name": "x", "scopes": ["customers:write"]}, format="json")
    assert wider.status_code == 400
    assert "scopes" in wider.json()["errors"]
    narrower = client.post("/api/v1/tokens/", {"name": "y", "scopes": ["customers:read"]}, format="json")
    assert narrower.status_code == 201, narrower.json()


def test_default_scopes_are_the_users_ceiling(tenant_a, manager_a, sales_a):
    assert "settings:write" in token_scopes_for(manager_a)
    assert "settings:write" not in token_scopes_for(sales_a)
    assert "customers:write" in token_scopes_for(sales_a)
    token, _ = _mint(tenant_a, manager_a, user=sales_a)
    assert token.scopes == token_scopes_for(sales_a)


# --- enforcement ---------------------------------------------------------------------------


def test_read_only_token_reads_but_cannot_write(tenant_a, manager_a):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name="只读客户")
    _, plaintext = _mint(tenant_a, manager_a, scopes=["customers:read"])
    client = _client(plaintext)
    listed = client.get("/api/v1/customers/")
    assert listed.status_code == 200 and "只读客户" in listed.content.decode()
    created = client.post("/api/v1/customers/", {"name": "新客户", "phone": "13800000000"}, format="json")
    assert created.status_code == 403
    assert "customers:write" in created.json()["detail"]
    with tenant_context(tenant_a):
        assert not CustomerFactory._meta.model.objects.filter(name="新客户").exists()


def test_token_without_a_module_scope_is_refused_there(tenant_a, manager_a):
    _, plaintext = _mint(tenant_a, manager_a, scopes=["customers:write"])
    client = _client(plaintext)
    assert client.get("/api/v1/customers/").status_code == 200
    for path in ("/api/v1/projects/", "/api/v1/tokens/", "/api/v1/staff/", "/api/v1/notifications/"):
        assert client.get(path).status_code == 403, path
    assert client.get("/api/v1/me/").status_code == 200  # who am I needs no scope


def test_session_requests_are_not_limited_by_scopes(manager_a, session_client):
    client = session_client(manager_a)
    assert client.get("/api/v1/projects/").status_code == 200
    assert client.get("/api/v1/tokens/").status_code == 200


def test_every_authenticated_api_view_enforces_scopes_and_has_a_module():
    """Walk /api/v1/: each view that authenticates uses TokenScopePermission and maps to a module."""

    def views(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                yield pattern.callback

    checked = 0
    for callback in views(get_resolver().url_patterns):
        view_class = getattr(callback, "cls", None)
        if view_class is None or view_class.__module__.split(".")[0] not in {
            "crm",
            "customers",
            "projects",
            "aftercare",
            "referrals",
        }:
            continue
        if not view_class().get_authenticators():
            continue  # public endpoints (intake, survey answers) take no credential
        assert TokenScopePermission in view_class.permission_classes, view_class
        if not getattr(view_class, "token_scope_exempt", False):
            assert token_module_of(view_class()) in TokenModule.values, view_class
        checked += 1
    assert checked > 20


# --- visible in the token list and the audit log ----------------------------------------------


def test_scopes_shown_in_token_list_page_and_api(tenant_a, manager_a, sales_a, session_client):
    _mint(tenant_a, manager_a, user=sales_a, scopes=["customers:write", "projects:read"])
    client = session_client(manager_a)
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert listed[0]["scopes"] == ["customers:write", "projects:read"]
    page = client.get("/settings/tokens/").content.decode()
    assert "客户与线索：读写" in page and "项目：只读" in page


def test_page_creates_token_with_chosen_scopes(tenant_a, manager_a, sales_a, session_client):
    response = session_client(manager_a).post(
        "/settings/tokens/",
        {"name": "抖音", "user": sales_a.pk, "scope_customers": "write", "scope_referrals": "read"},
    )
    assert response.status_code == 200
    assert "crm_" in response.content.decode()
    with tenant_context(tenant_a):
        assert ApiToken.objects.get(name="抖音").scopes == ["customers:write", "referrals:read"]


def test_page_requires_at_least_one_scope(tenant_a, manager_a, session_client):
    response = session_client(manager_a).post("/settings/tokens/", {"name": "空"})
    assert response.status_code == 200
    assert "请至少为一个模块选择只读或读写" in response.content.decode()
    with tenant_context(tenant_a):
        assert not ApiToken.objects.exists()


def test_export_through_a_token_is_audited_with_the_token_and_its_scopes(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a)
    token, plaintext = _mint(tenant_a, manager_a, scopes=["customers:read"])
    response = _client(plaintext).get("/api/v1/customers/export/")
    assert response.status_code == 200
    with tenant_context(tenant_a):
        entry = CustomerAuditLog.objects.get(action=AuditAction.EXPORT_LIST)
    assert entry.actor_id == manager_a.pk
    assert entry.detail["api_token"] == {
        "id": token.pk,
        "prefix": token.prefix,
        "name": "集成",
        "scopes": ["customers:read"],
    }
    page = session_client(manager_a).get("/customers/audit-log/").content.decode()
    assert token.prefix in page and "客户与线索：只读" in page


def test_legacy_tokens_keep_every_scope(tenant_a, manager_a):
    """Rows from before scopes (and tokens created directly) default to read-write everywhere."""
    with tenant_context(tenant_a):
        token = ApiToken.objects.create(
            tenant=tenant_a, name="旧", user=manager_a, prefix="p", key_hash="h" * 64
        )
    assert token.scopes == all_token_scopes()
