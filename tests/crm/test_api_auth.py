"""API tokens (create, use, revoke), the one error shape, role permissions."""

from __future__ import annotations

from crm.models import ApiToken, Role
from crm.permissions import has_permission
from crm.tenancy import tenant_context


def test_manager_creates_token_shown_once_and_hashed(tenant_a, manager_a, session_client):
    client = session_client(manager_a)
    body = {"name": "官网表单", "scopes": ["customers:write"]}
    response = client.post("/api/v1/tokens/", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["scopes"] == ["customers:write"]
    plaintext = response.json()["token"]
    assert plaintext.startswith("crm_")
    with tenant_context(tenant_a):
        token = ApiToken.objects.get(pk=response.json()["id"])
    assert plaintext not in token.key_hash and len(token.key_hash) == 64
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert "token" not in listed[0]
    assert client.get(f"/api/v1/tokens/{token.pk}/").json().get("token") is None


def test_token_authenticates_then_revoked_token_is_401(manager_a, token_client):
    client = token_client(manager_a)
    me = client.get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json()["username"] == manager_a.username
    assert me.json()["tenant"]["slug"] == manager_a.tenant.slug
    token_id = client.get("/api/v1/tokens/").json()["results"][0]["id"]
    assert client.post(f"/api/v1/tokens/{token_id}/revoke/").status_code == 200
    response = client.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == {"detail": "API 令牌无效或已吊销。", "errors": {}}


def test_bad_token_is_401_in_error_shape(client, db):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION="Token crm_nope_nothing")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"}


def test_anonymous_is_401_or_403_in_error_shape(client, db):
    response = client.get("/api/v1/tokens/")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"detail", "errors"}


def test_unknown_api_route_is_json_404(client, db):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "接口不存在。", "errors": {}}


def test_validation_error_has_field_messages_and_writes_nothing(tenant_a, manager_a, token_client):
    client = token_client(manager_a)
    response = client.post("/api/v1/tokens/", {"name": ""}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and "name" in body["errors"]
    with tenant_context(tenant_a):
        assert ApiToken.objects.count() == 1  # only the client's own token


def test_sales_cannot_manage_tokens(tenant_a, make_staff, token_client, manager_a):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        from crm.services import api_token_create

        _, plaintext = api_token_create(tenant=tenant_a, created_by=manager_a, name="sales", user=sales)
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
    response = client.post("/api/v1/tokens/", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert set(response.json()) == {"detail", "errors"}
    assert client.get("/api/v1/me/").status_code == 200


def test_role_permission_table(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    manager = make_staff(tenant_a, Role.MANAGER)
    admin = make_staff(tenant_a, Role.ADMIN)
    assert not has_permission(sales, "crm.manage_tokens")
    assert has_permission(manager, "crm.manage_tokens")
    assert has_permission(admin, "crm.manage_tokens")  # admin may do anything declared
    assert sales.has_perm("crm.view_staff") and not sales.has_perm("crm.manage_tokens")
    inactive = make_staff(tenant_a, Role.MANAGER, is_active=False)
    assert not has_permission(inactive, "crm.manage_tokens")


def test_token_cannot_act_for_a_user_of_another_tenant(manager_a, admin_b, token_client):
    client = token_client(manager_a)
    response = client.post("/api/v1/tokens/", {"name": "x", "user": admin_b.pk}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()["errors"]


def test_openapi_schema_and_docs_render(client, db):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/tokens/" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200 and b"swagger" in docs.content.lower()
