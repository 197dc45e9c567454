"""Login, throttling, navigation shell, language switch, tenant-scoped admin."""

from __future__ import annotations

from django.core.management import call_command

from crm.models import ApiToken, Role, Tenant, User
from crm.tenancy import tenant_context
from tests.factories import DEFAULT_PASSWORD, PROBE_FACTORIES


def test_login_wrong_password_shows_form_error(client, manager_a):
    response = client.post("/accounts/login/", {"username": manager_a.username, "password": "wrong"})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()


def test_repeated_failures_are_throttled(client, manager_a):
    for _ in range(5):
        client.post("/accounts/login/", {"username": manager_a.username, "password": "wrong"})
    response = client.post("/accounts/login/", {"username": manager_a.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "锁定" in response.content.decode()


def test_login_then_shell_shows_tenant_roles_and_navigation(client, manager_a):
    response = client.post("/accounts/login/", {"username": manager_a.username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert manager_a.tenant.name in page
    assert "经理" in page
    assert "API 令牌" in page
    assert 'name="language"' in page


def test_pages_require_login(client, db):
    response = client.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_language_switch_to_english(client, manager_a):
    client.force_login(manager_a)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    page = client.get("/").content.decode()
    assert '<html lang="en">' in page
    assert "Workbench" in page


def test_token_page_creates_and_revokes(client, manager_a):
    client.force_login(manager_a)
    response = client.post("/settings/tokens/", {"name": "抖音线索", "scope_customers": "write"})
    assert response.status_code == 200
    assert "crm_" in response.content.decode()
    with tenant_context(manager_a.tenant):
        token = ApiToken.objects.get(name="抖音线索")
    client.post(f"/settings/tokens/{token.pk}/revoke/")
    with tenant_context(manager_a.tenant):
        token.refresh_from_db()
    assert token.revoked_at is not None


def test_sales_cannot_open_token_page(client, tenant_a, make_staff):
    client.force_login(make_staff(tenant_a, Role.SALES))
    assert client.get("/settings/tokens/").status_code == 403


def test_admin_is_tenant_scoped(client, tenant_a, tenant_b, admin_a, admin_b):
    with tenant_context(tenant_b):
        token_b = PROBE_FACTORIES[ApiToken](tenant_b)
    with tenant_context(tenant_a):
        token_a = PROBE_FACTORIES[ApiToken](tenant_a)
    client.force_login(admin_a)
    listing = client.get("/admin/crm/apitoken/").content.decode()
    assert token_a.name in listing
    assert client.get(f"/admin/crm/apitoken/{token_b.pk}/change/").status_code in (302, 404)
    change = client.get(f"/admin/crm/apitoken/{token_a.pk}/change/").content.decode()
    assert admin_b.username not in change  # FK choices list only tenant A's staff
    users = client.get("/admin/crm/user/").content.decode()
    assert admin_a.username in users and admin_b.username not in users


def test_create_tenant_command(db):
    call_command(
        "create_tenant",
        "--name",
        "新居装饰",
        "--slug",
        "xinju",
        "--admin",
        "xinju_admin",
        "--password",
        "Secret-pass-1",
    )
    tenant = Tenant.objects.get(slug="xinju")
    admin = User.objects.get(username="xinju_admin")
    assert admin.tenant == tenant and admin.has_role(Role.ADMIN) and admin.check_password("Secret-pass-1")


def test_chinese_by_default_even_for_english_browsers(client, manager_a):
    client.force_login(manager_a)
    page = client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-hans">' in page and "工作台" in page


def test_api_docs_use_no_cdn(client, db):
    page = client.get("/api/docs/").content.decode()
    assert "cdn" not in page.lower() and "/static/drf_spectacular_sidecar/" in page


def test_dashboard_renders_registered_widgets_for_managers_only(client, tenant_a, manager_a, make_staff):
    from django.utils.html import format_html

    from crm import extensions

    def widget(*, request, tenant):
        return extensions.Panel(title="测试指标", html=format_html("<p>{}</p>", tenant.name))

    extensions.register_dashboard_widget(widget)
    try:
        client.force_login(manager_a)
        page = client.get("/dashboard/").content.decode()
        assert "测试指标" in page and tenant_a.name in page
        # Sales users now open the dashboard scoped to their own figures (analytics), but the
        # apps' manager widgets stay hidden from them; other roles still get 403.
        client.force_login(make_staff(tenant_a, Role.SALES))
        assert "测试指标" not in client.get("/dashboard/").content.decode()
        client.force_login(make_staff(tenant_a, Role.DESIGNER))
        assert client.get("/dashboard/").status_code == 403
    finally:
        extensions._dashboard_widgets.remove(widget)


def test_widget_titles_follow_the_language_switch(client, tenant_a, manager_a):
    client.force_login(manager_a)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/dashboard/").content.decode()
    # (the referrals app's widget; the customers one is replaced by the analytics SLA panel)
    assert "<header><strong>Referral share</strong></header>" in page
    assert "转介绍占比" not in page
