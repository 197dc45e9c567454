"""Sending through a REAL Celery worker (Redis broker): email, group robot, SMS; exactly once."""

from __future__ import annotations

import threading
import time

import pytest
from django.core import mail
from django.db import connection

from crm.models import Role
from crm.notifications import tasks
from crm.notifications.models import Channel, Delivery, OutboundStatus, SmsMessage
from crm.notifications.services import (
    delivery_attempt,
    notification_settings_update,
    notify,
    outbound_requeue_due,
    sms_send,
)
from crm.notifications.sms import LoggingSmsBackend, SmsSendError
from crm.tenancy import tenant_context
from tests.celery_utils import real_worker

pytestmark = pytest.mark.django_db(transaction=True)


def wait_until(tenant, model, pk, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        with tenant_context(tenant):
            row = model.objects.get(pk=pk)
        if predicate(row) or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def settled(row) -> bool:
    return row.status not in (OutboundStatus.PENDING, OutboundStatus.SENDING)


def configure_robot(tenant, server, kind="wecom", secret=None):
    notification_settings_update(
        tenant=tenant, robot_kind=kind, robot_url=server.url, robot_enabled=True, robot_secret=secret
    )


def notify_one(tenant, user, key="lead:7"):
    return notify(
        tenant=tenant,
        recipients=[user],
        kind="lead_assigned",
        title="新线索：王女士",
        body="翠湖小区 120㎡ 二手房翻新",
        link="/customers/7/",
        dedupe_key=key,
    )


def delivery_of(tenant, channel) -> Delivery:
    with tenant_context(tenant):
        return Delivery.objects.get(channel=channel)


def test_email_sent_once_even_when_enqueued_twice(tenant_a, make_staff):
    user = make_staff(tenant_a, email="li@example.com")
    with real_worker():
        notify_one(tenant_a, user)  # commits -> on_commit enqueues deliver
        delivery = delivery_of(tenant_a, Channel.EMAIL)
        duplicate = tasks.deliver.delay(tenant_id=tenant_a.id, delivery_id=delivery.id)
        duplicate.get(timeout=20)
        delivery = wait_until(tenant_a, Delivery, delivery.pk, settled)
        again = tasks.deliver.delay(tenant_id=tenant_a.id, delivery_id=delivery.id).get(timeout=20)
    assert again is None  # already sent: not claimed
    assert delivery.status == OutboundStatus.SENT and delivery.attempts == 1 and delivery.sent_at
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["li@example.com"]
    assert message.subject == "[安居家装] 新线索：王女士"
    assert "/customers/7/" in message.body


def test_two_workers_running_the_same_delivery_send_once(tenant_a, make_staff, robot_server):
    robot_server.delay = 0.5  # keep the first sender inside its lock while the others try
    configure_robot(tenant_a, robot_server)
    user = make_staff(tenant_a)
    with real_worker(concurrency=4, pool="threads"):
        notify_one(tenant_a, user)
        delivery = delivery_of(tenant_a, Channel.WEBHOOK)
        results = [tasks.deliver.delay(tenant_id=tenant_a.id, delivery_id=delivery.id) for _ in range(4)]
        outcomes = [result.get(timeout=20) for result in results]
        delivery = wait_until(tenant_a, Delivery, delivery.pk, settled)
    time.sleep(0.3)
    assert len(robot_server.posts) == 1
    assert outcomes.count(OutboundStatus.SENT) <= 1 and set(outcomes) <= {None, OutboundStatus.SENT}
    assert delivery.status == OutboundStatus.SENT and delivery.attempts == 1


def test_two_threads_claiming_the_same_row_send_once(tenant_a, make_staff, robot_server):
    """Without Celery in the way: two connections race for the row lock."""
    robot_server.delay = 0.5
    configure_robot(tenant_a, robot_server)
    notify_one(tenant_a, make_staff(tenant_a))
    delivery = delivery_of(tenant_a, Channel.WEBHOOK)
    outcomes: list = []

    def run():
        try:
            outcomes.append(delivery_attempt(tenant=tenant_a, delivery_id=delivery.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert sorted(outcomes, key=str) == [None, OutboundStatus.SENT]
    assert len(robot_server.posts) == 1


def test_wecom_webhook_posts_markdown(tenant_a, make_staff, robot_server):
    configure_robot(tenant_a, robot_server)
    with real_worker():
        notify_one(tenant_a, make_staff(tenant_a))
        delivery = wait_until(tenant_a, Delivery, delivery_of(tenant_a, Channel.WEBHOOK).pk, settled)
    assert delivery.status == OutboundStatus.SENT
    (post,) = robot_server.posts
    assert post["json"]["msgtype"] == "markdown"
    content = post["json"]["markdown"]["content"]
    assert content.startswith("### 新线索：王女士") and "翠湖小区" in content


def test_dingtalk_webhook_format_and_signature(tenant_a, make_staff, robot_server):
    configure_robot(tenant_a, robot_server, kind="dingtalk", secret="SECtest")
    with real_worker():
        notify_one(tenant_a, make_staff(tenant_a))
        delivery = wait_until(tenant_a, Delivery, delivery_of(tenant_a, Channel.WEBHOOK).pk, settled)
    assert delivery.status == OutboundStatus.SENT
    (post,) = robot_server.posts
    assert post["json"]["markdown"]["title"] == "新线索：王女士"
    assert "翠湖小区" in post["json"]["markdown"]["text"]
    assert "timestamp=" in post["path"] and "sign=" in post["path"]


def test_webhook_failure_retries_with_backoff_then_succeeds(tenant_a, make_staff, robot_server, fast_retries):
    robot_server.script = [500, 502]
    configure_robot(tenant_a, robot_server)
    with real_worker():
        notify_one(tenant_a, make_staff(tenant_a))
        pk = delivery_of(tenant_a, Channel.WEBHOOK).pk
        delivery = wait_until(tenant_a, Delivery, pk, settled)
    assert delivery.status == OutboundStatus.SENT
    assert delivery.attempts == 3 and delivery.last_error == ""
    posts = robot_server.posts
    assert len(posts) == 3
    first_gap, second_gap = posts[1]["at"] - posts[0]["at"], posts[2]["at"] - posts[1]["at"]
    assert first_gap >= 0.3 - 0.05 and second_gap >= 0.6 - 0.05  # base, then 2 x base
    assert second_gap > first_gap


def test_webhook_permanent_failure_is_marked_failed(tenant_a, make_staff, robot_server, fast_retries):
    robot_server.script = [500] * 10
    configure_robot(tenant_a, robot_server)
    with real_worker():
        notify_one(tenant_a, make_staff(tenant_a))
        pk = delivery_of(tenant_a, Channel.WEBHOOK).pk
        delivery = wait_until(tenant_a, Delivery, pk, settled)
        time.sleep(0.5)  # no further attempt after "failed"
    assert delivery.status == OutboundStatus.FAILED
    assert delivery.attempts == 4  # CRM_NOTIFY_MAX_ATTEMPTS in fast_retries
    assert "500" in delivery.last_error and delivery.next_attempt_at is None
    assert len(robot_server.posts) == 4


def test_robot_answering_errcode_is_a_failure(tenant_a, make_staff, robot_server, settings):
    settings.CRM_NOTIFY_MAX_ATTEMPTS = 1
    robot_server.script = [299]  # any non-200 status the server maps to {"errcode": 500}
    configure_robot(tenant_a, robot_server)
    notify_one(tenant_a, make_staff(tenant_a))
    pk = delivery_of(tenant_a, Channel.WEBHOOK).pk
    assert delivery_attempt(tenant=tenant_a, delivery_id=pk) == OutboundStatus.FAILED
    with tenant_context(tenant_a):
        assert "errcode=500" in Delivery.objects.get(pk=pk).last_error


def test_beat_requeues_overdue_pending_deliveries(tenant_a, make_staff):
    """A lost on_commit (broker down, crash) is picked up by the periodic scan."""
    user = make_staff(tenant_a, email="li@example.com")
    notify_one(tenant_a, user)  # no worker yet: the task waits in Redis ...
    from crm.celery import app

    app.control.purge()  # ... and is lost
    with tenant_context(tenant_a):
        Delivery.objects.update(next_attempt_at="2020-01-01T00:00:00Z")
    with real_worker():
        assert tasks.requeue_due.delay().get(timeout=20) >= 1
        delivery = wait_until(tenant_a, Delivery, delivery_of(tenant_a, Channel.EMAIL).pk, settled)
    assert delivery.status == OutboundStatus.SENT
    assert len(mail.outbox) == 1
    assert outbound_requeue_due(tenant=tenant_a) == 0  # nothing pending any more


class FlakySmsBackend:
    """Refuses the first send, then accepts (a provider hiccup)."""

    calls: list[str] = []

    def send(self, *, phone: str, message: str) -> str:
        type(self).calls.append(phone)
        if len(type(self).calls) == 1:
            raise SmsSendError("网关超时")
        return "provider-42"


def test_sms_is_recorded_and_sent_once_per_dedupe_key(tenant_a):
    LoggingSmsBackend.outbox.clear()
    with real_worker():
        first = sms_send(tenant=tenant_a, phone="13812345678", message="验证码 123456", dedupe_key="otp:1")
        second = sms_send(tenant=tenant_a, phone="13812345678", message="验证码 123456", dedupe_key="otp:1")
        assert first.pk == second.pk
        sms = wait_until(tenant_a, SmsMessage, first.pk, settled)
        tasks.send_sms.delay(tenant_id=tenant_a.id, sms_id=first.pk).get(timeout=20)
    assert sms.status == OutboundStatus.SENT and sms.provider_message_id.startswith("log-")
    assert sms.backend == "crm.notifications.sms.LoggingSmsBackend"
    assert [m["phone"] for m in LoggingSmsBackend.outbox] == ["13812345678"]
    with tenant_context(tenant_a):
        assert SmsMessage.objects.count() == 1


def test_sms_backend_is_pluggable_and_failures_retry(tenant_a, fast_retries):
    fast_retries.CRM_SMS_BACKEND = f"{__name__}.FlakySmsBackend"
    FlakySmsBackend.calls = []
    with real_worker():
        sms = sms_send(tenant=tenant_a, phone="13900001111", message="明天9点上门回访", dedupe_key="r:1")
        sms = wait_until(tenant_a, SmsMessage, sms.pk, settled)
    assert sms.status == OutboundStatus.SENT and sms.attempts == 2
    assert sms.provider_message_id == "provider-42"
    assert sms.backend == f"{__name__}.FlakySmsBackend"
    assert FlakySmsBackend.calls == ["13900001111", "13900001111"]


def test_sms_rejects_empty_phone(tenant_a):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        sms_send(tenant=tenant_a, phone=" ", message="x", dedupe_key="k")
    assert "phone" in error.value.message_dict
    with tenant_context(tenant_a):
        assert SmsMessage.objects.count() == 0


def test_rolled_back_notify_sends_nothing(tenant_a, make_staff):
    user = make_staff(tenant_a, Role.MANAGER, email="li@example.com")
    with real_worker():
        with pytest.raises(RuntimeError), tenant_context(tenant_a):
            notify_one(tenant_a, user)
            raise RuntimeError("the business write failed")
        time.sleep(1)
    assert mail.outbox == []
    with tenant_context(tenant_a):
        assert not Delivery.objects.exists()


@pytest.mark.django_db
def test_requeue_beat_is_scheduled():
    from crm.celery import app

    app.finalize()  # apps' beat schedules are merged when the Celery app finalizes
    entry = app.conf.beat_schedule["notifications-requeue-due"]
    assert entry["task"] == tasks.requeue_due.name and entry["schedule"] <= 300
