"""notify(): one notification per (recipient, dedupe_key), deliveries decided in the same transaction."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from crm.models import Role
from crm.notifications.models import Channel, Delivery, Notification, NotificationSettings
from crm.notifications.outbound import enqueue
from crm.notifications.selectors import unread_count
from crm.notifications.services import (
    notification_mark_read,
    notification_settings_update,
    notify,
)
from crm.tenancy import tenant_context


def _notify(tenant, recipients, key="lead:1", **extra):
    return notify(
        tenant=tenant,
        recipients=recipients,
        kind="lead_assigned",
        title="新线索：张先生",
        body="阳光花园 3 室 2 厅，预算 20 万",
        link="/customers/1/",
        dedupe_key=key,
        **extra,
    )


@pytest.fixture
def robot_on(tenant_a, settings):
    settings.CRM_ROBOT_ALLOWED_HOSTS = ["qyapi.weixin.qq.com"]
    notification_settings_update(
        tenant=tenant_a,
        robot_kind="wecom",
        robot_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc",
        robot_enabled=True,
    )


def test_repeated_notify_creates_nothing_new(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES, email="li@example.com")
    manager = make_staff(tenant_a, Role.MANAGER, email="")
    assert _notify(tenant_a, [sales, manager]) == 2
    assert _notify(tenant_a, [sales, manager]) == 0
    assert _notify(tenant_a, [sales, sales]) == 0
    with tenant_context(tenant_a):
        assert Notification.objects.count() == 2
        # email only for the recipient who has an address; robot not configured -> no webhook
        assert list(Delivery.objects.values_list("channel", "target")) == [(Channel.EMAIL, "li@example.com")]
        notification = Notification.objects.get(recipient=sales)
        assert (notification.kind, notification.title, notification.link) == (
            "lead_assigned",
            "新线索：张先生",
            "/customers/1/",
        )
    # a later recipient under the same key still gets theirs
    designer = make_staff(tenant_a, Role.DESIGNER)
    assert _notify(tenant_a, [sales, designer]) == 1


def test_webhook_once_per_dedupe_key(tenant_a, make_staff, robot_on):
    first, second, third = (make_staff(tenant_a, email=f"u{i}@example.com") for i in range(3))
    assert _notify(tenant_a, [first, second]) == 2
    assert _notify(tenant_a, [third]) == 1
    assert _notify(tenant_a, [first], key="lead:2") == 1
    with tenant_context(tenant_a):
        webhooks = Delivery.objects.filter(channel=Channel.WEBHOOK)
        assert sorted(webhooks.values_list("dedupe_key", flat=True)) == ["lead:1", "lead:2"]
        assert Delivery.objects.filter(channel=Channel.EMAIL).count() == 4


def test_disabled_robot_gets_no_webhook(tenant_a, make_staff, robot_on):
    with tenant_context(tenant_a):
        NotificationSettings.objects.update(robot_enabled=False)
    _notify(tenant_a, [make_staff(tenant_a)])
    with tenant_context(tenant_a):
        assert not Delivery.objects.filter(channel=Channel.WEBHOOK).exists()


def test_deliveries_are_queued_after_commit_only(tenant_a, make_staff, django_capture_on_commit_callbacks):
    user = make_staff(tenant_a, email="li@example.com")
    with django_capture_on_commit_callbacks() as callbacks:
        _notify(tenant_a, [user])
    # the delivery task; the other callback drops the recipient's cached unread badge again
    assert len([c for c in callbacks if getattr(c, "func", None) is enqueue]) == 1
    assert len(callbacks) == 2
    with django_capture_on_commit_callbacks() as callbacks:
        _notify(tenant_a, [user])
    assert callbacks == []


def test_inactive_users_skipped_and_foreign_users_refused(tenant_a, tenant_b, make_staff):
    inactive = make_staff(tenant_a, is_active=False)
    assert _notify(tenant_a, [inactive]) == 0
    with pytest.raises(ValueError):
        _notify(tenant_a, [make_staff(tenant_b)])
    with tenant_context(tenant_a):
        assert Notification.objects.count() == 0


def test_notify_refuses_to_write_into_another_active_tenant(tenant_a, tenant_b, make_staff):
    user = make_staff(tenant_a)
    with tenant_context(tenant_b), pytest.raises(ValueError):
        _notify(tenant_a, [user])


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_notify_calls_create_once(tenant_a, make_staff):
    users = [make_staff(tenant_a, email=f"u{i}@example.com") for i in range(5)]
    results: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(order):
        try:
            barrier.wait()
            results.append(_notify(tenant_a, order, key="sla-breach:42"))
        except BaseException as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(users,)), threading.Thread(target=run, args=(users[::-1],))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sum(results) == 5
    with tenant_context(tenant_a):
        assert Notification.objects.filter(dedupe_key="sla-breach:42").count() == 5
        assert Delivery.objects.count() == 5


def test_unread_count_and_mark_read_are_per_user(tenant_a, make_staff):
    me, colleague = make_staff(tenant_a), make_staff(tenant_a)
    for key in ("a", "b", "c"):
        _notify(tenant_a, [me, colleague], key=key)
    with tenant_context(tenant_a):
        mine = list(Notification.objects.filter(recipient=me).order_by("id").values_list("id", flat=True))
        theirs = list(Notification.objects.filter(recipient=colleague).values_list("id", flat=True))
        assert unread_count(user=me) == 3
        # someone else's ids are silently ignored
        assert notification_mark_read(tenant=tenant_a, user=me, notification_ids=[mine[0], *theirs]) == 1
        assert unread_count(user=me) == 2
        assert unread_count(user=colleague) == 3
        assert notification_mark_read(tenant=tenant_a, user=me, all=True) == 2
        assert notification_mark_read(tenant=tenant_a, user=me, all=True) == 0
        assert unread_count(user=me) == 0
        assert unread_count(user=colleague) == 3


def test_unread_count_is_one_query(tenant_a, make_staff, django_assert_num_queries):
    me = make_staff(tenant_a)
    _notify(tenant_a, [me])
    with tenant_context(tenant_a), django_assert_num_queries(1):
        assert unread_count(user=me) == 1


def test_robot_settings_validation(tenant_a, settings):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        notification_settings_update(tenant=tenant_a, robot_kind="", robot_url="", robot_enabled=True)
    assert set(error.value.message_dict) == {"robot_kind", "robot_url"}
    with pytest.raises(ValidationError) as error:
        notification_settings_update(
            tenant=tenant_a, robot_kind="wecom", robot_url="http://10.0.0.5/hook", robot_enabled=True
        )
    assert "robot_url" in error.value.message_dict
    robot = notification_settings_update(
        tenant=tenant_a,
        robot_kind="dingtalk",
        robot_url="https://oapi.dingtalk.com/robot/send?access_token=x",
        robot_enabled=True,
        robot_secret="SECabc",
    )
    assert robot.robot_active and robot.robot_secret == "SECabc"
    robot = notification_settings_update(
        tenant=tenant_a, robot_kind="dingtalk", robot_url=robot.robot_url, robot_enabled=False
    )
    assert robot.robot_secret == "SECabc" and not robot.robot_active
    with tenant_context(tenant_a):
        assert NotificationSettings.objects.count() == 1


def test_same_dedupe_key_in_two_tenants_even_under_platform_scope(tenant_a, tenant_b, make_staff, settings):
    """Platform code (periodic scans) may call notify() inside platform_scope: it stays in its tenant."""
    from crm.tenancy import platform_scope

    settings.CRM_ROBOT_ALLOWED_HOSTS = ["qyapi.weixin.qq.com"]
    for tenant in (tenant_a, tenant_b):
        notification_settings_update(
            tenant=tenant,
            robot_kind="wecom",
            robot_url=f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={tenant.slug}",
            robot_enabled=True,
        )
    user_a, user_b = make_staff(tenant_a), make_staff(tenant_b)
    assert _notify(tenant_a, [user_a], key="daily-digest") == 1
    with platform_scope("test: a periodic scan"):
        assert _notify(tenant_b, [user_b], key="daily-digest") == 1
    for tenant in (tenant_a, tenant_b):
        with tenant_context(tenant):
            assert Delivery.objects.filter(channel=Channel.WEBHOOK).count() == 1
            assert Notification.objects.count() == 1


def test_long_dedupe_keys_are_hashed_not_truncated_into_collisions(tenant_a, make_staff):
    user = make_staff(tenant_a)
    prefix = "aftercare-reminder-" + "x" * 300
    assert _notify(tenant_a, [user], key=prefix + "-30") == 1
    assert _notify(tenant_a, [user], key=prefix + "-7") == 1
    assert _notify(tenant_a, [user], key=prefix + "-7") == 0
    with tenant_context(tenant_a):
        keys = list(Notification.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == 2 and all(len(key) <= 200 for key in keys)


def test_demo_seed_is_idempotent(tenant_a, make_staff):
    from crm.notifications.demo import seed_demo

    staff = {"manager": make_staff(tenant_a, Role.MANAGER), "sales": make_staff(tenant_a)}
    with tenant_context(tenant_a):
        seed_demo(tenant=tenant_a, staff=staff)
        seed_demo(tenant=tenant_a, staff=staff)
        assert Notification.objects.filter(kind="welcome").count() == 2
        robot = NotificationSettings.objects.get()
        assert robot.robot_kind == "wecom" and not robot.robot_active
