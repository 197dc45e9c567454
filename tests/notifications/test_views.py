"""Inbox page, nav badge (one COUNT), mark read with and without htmx, robot settings page."""

from __future__ import annotations

from django.urls import reverse

from crm.models import Role
from crm.notifications.models import Notification, NotificationSettings
from crm.notifications.services import notify
from crm.tenancy import tenant_context


def _notify(tenant, users, key, link=""):
    return notify(tenant=tenant, recipients=users, kind="k", title=f"标题{key}", link=link, dedupe_key=key)


def test_inbox_lists_newest_first_with_unread_highlighted(tenant_a, make_staff, session_client):
    me, other = make_staff(tenant_a), make_staff(tenant_a)
    for key in ("一", "二", "三"):
        _notify(tenant_a, [me], key)
    _notify(tenant_a, [other], "别人的")
    with tenant_context(tenant_a):
        Notification.objects.filter(title="标题一").update(read_at="2026-01-01T00:00:00Z")
    response = session_client(me).get(reverse("notifications:inbox"))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index("标题三") < html.index("标题二") < html.index("标题一")
    assert "别人的" not in html
    assert html.count('class="crm-notif unread"') == 2
    assert 'id="crm-unread-badge"' in html and '<span class="crm-badge danger">2</span>' in html
    only_unread = session_client(me).get(reverse("notifications:inbox") + "?unread=1").content.decode()
    assert "标题一" not in only_unread and "标题三" in only_unread


def test_nav_badge_is_one_count_query(tenant_a, make_staff, session_client, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    me = make_staff(tenant_a, Role.MANAGER)
    _notify(tenant_a, [me], "x")
    client = session_client(me)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("api-tokens"))
    notif_queries = [q["sql"] for q in queries.captured_queries if "notifications_notification" in q["sql"]]
    assert len(notif_queries) == 1 and notif_queries[0].startswith("SELECT COUNT(*)")


def test_mark_one_read_htmx_returns_row_and_badge(tenant_a, make_staff, session_client):
    me = make_staff(tenant_a)
    _notify(tenant_a, [me], "a")
    _notify(tenant_a, [me], "b")
    with tenant_context(tenant_a):
        first = Notification.objects.get(title="标题a")
    client = session_client(me)
    response = client.post(reverse("notifications:read", args=[first.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="notification-{first.pk}" class="crm-notif"' in html
    assert 'hx-swap-oob="true"' in html and '<span class="crm-badge danger">1</span>' in html
    with tenant_context(tenant_a):
        first.refresh_from_db()
        assert first.read_at is not None


def test_mark_read_without_js_follows_local_link_only(tenant_a, make_staff, session_client):
    me = make_staff(tenant_a)
    _notify(tenant_a, [me], "a", link="/customers/5/")
    with tenant_context(tenant_a):
        notification = Notification.objects.get()
    client = session_client(me)
    url = reverse("notifications:read", args=[notification.pk])
    assert client.post(url, {"next": "/customers/5/"})["Location"] == "/customers/5/"
    assert client.post(url, {"next": "https://evil.example/"})["Location"] == reverse("notifications:inbox")


def test_cannot_mark_someone_elses_notification(tenant_a, tenant_b, make_staff, session_client):
    me, colleague, stranger = make_staff(tenant_a), make_staff(tenant_a), make_staff(tenant_b)
    _notify(tenant_a, [colleague], "c")
    with tenant_context(tenant_a):
        theirs = Notification.objects.get()
    assert session_client(me).post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    assert session_client(stranger).post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    with tenant_context(tenant_a):
        theirs.refresh_from_db()
        assert theirs.read_at is None


def test_mark_all_read(tenant_a, make_staff, session_client):
    me, colleague = make_staff(tenant_a), make_staff(tenant_a)
    for key in "abc":
        _notify(tenant_a, [me, colleague], key)
    client = session_client(me)
    response = client.post(reverse("notifications:read-all"), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="notification-list"' in html and "crm-notif unread" not in html
    assert 'hx-swap-oob="true"' in html and "crm-badge danger" not in html
    assert client.post(reverse("notifications:read-all")).status_code == 302
    with tenant_context(tenant_a):
        assert Notification.objects.filter(recipient=colleague, read_at__isnull=True).count() == 3


def test_settings_page_for_managers_only_with_field_errors(tenant_a, make_staff, session_client, settings):
    settings.CRM_ROBOT_ALLOWED_HOSTS = ["qyapi.weixin.qq.com"]
    sales = make_staff(tenant_a, Role.SALES)
    assert session_client(sales).get(reverse("notifications:settings")).status_code == 403
    manager = make_staff(tenant_a, Role.MANAGER)
    client = session_client(manager)
    assert client.get(reverse("notifications:settings")).status_code == 200
    response = client.post(
        reverse("notifications:settings"),
        {"robot_kind": "wecom", "robot_url": "https://example.com/x", "robot_enabled": "on"},
    )
    assert response.status_code == 400
    assert "只允许企业微信或钉钉的机器人地址" in response.content.decode()
    response = client.post(
        reverse("notifications:settings"),
        {
            "robot_kind": "wecom",
            "robot_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k",
            "robot_enabled": "on",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert NotificationSettings.objects.get().robot_active
    assert client.post(reverse("notifications:settings-test")).status_code == 302
    with tenant_context(tenant_a):
        assert Notification.objects.filter(recipient=manager, kind="test").count() == 1
