"""The zero-setup demo's outbox page, and absolute links in every outgoing message."""

from __future__ import annotations

import importlib
import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from crm import demo as crm_demo
from crm.models import Role
from crm.notifications import senders
from crm.notifications.models import Channel, Delivery, Notification, SmsMessage
from crm.tenancy import tenant_context

pytestmark = pytest.mark.django_db

DEMO = {
    "CRM_DEMO": True,
    "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    "CRM_SMS_BACKEND": "",
}
SITE = "https://crm.example.com"
#: A path not preceded by a host: "/aftercare/s/…" after a space, a colon or a bracket.
RELATIVE_LINK = re.compile(r"(?<![\w.:/-])/[\w-]+/")


def _code_sms(tenant):
    from projects.models import ChangeOrder, ChangeOrderStatus
    from projects.services.share import confirmation_code_request, share_link_create

    change_order = ChangeOrder.objects.filter(status=ChangeOrderStatus.SENT).select_related("project").first()
    assert change_order is not None, "the demo has a change order waiting for the customer"
    pm = change_order.project.project_manager
    link, _ = share_link_create(tenant=tenant, project=change_order.project, created_by=pm)
    confirmation_code_request(tenant=tenant, link=link, change_order=change_order, decision="approve")


@pytest.fixture
def demo_tenant(db):
    tenant = crm_demo.ensure_tenant("anju", "安居家装（演示）")
    staff = crm_demo.ensure_staff(tenant)
    for module_name in crm_demo.DOMAIN_DEMO_MODULES:
        with tenant_context(tenant):
            importlib.import_module(module_name).seed_demo(tenant=tenant, staff=staff)
    return tenant, staff


@override_settings(SITE_URL=SITE)
def test_no_outgoing_message_carries_a_relative_link(demo_tenant):
    """SMS (codes, surveys, referral invites, reminders, marketing), e-mails and robot posts."""
    from aftercare.models import Survey
    from aftercare.services.surveys import survey_send_sms
    from referrals.handlers import on_survey_promoter

    tenant, _ = demo_tenant
    with tenant_context(tenant):
        _code_sms(tenant)
        surveys = list(Survey.objects.select_related("customer")[:3])
        assert surveys, "the demo has surveys"
        for survey in surveys:
            survey_send_sms(tenant=tenant, survey=survey)
            on_survey_promoter(tenant=tenant, customer_id=survey.customer_id, survey_id=survey.pk)
        texts = [sms.message for sms in SmsMessage.objects.all()]
        notifications = list(Notification.objects.exclude(link="")[:20])
    assert any(f"{SITE}/aftercare/s/" in text for text in texts), texts
    assert any(f"{SITE}/" in text and "推荐" in text for text in texts), texts
    assert any(re.search(r"验证码 \d{6}", text) for text in texts)
    assert notifications, "the demo notified somebody with a link"
    for notification in notifications:
        senders.send_email(notification=notification, address="pm@example.com", tenant_name=tenant.name)
        payload = senders.robot_payload(
            "wecom", title=notification.title, body=notification.body, link=notification.link
        )
        texts.append(payload["markdown"]["content"])
    texts += [message.body for message in mail.outbox]
    relative = {text: RELATIVE_LINK.findall(text) for text in texts if RELATIVE_LINK.search(text)}
    assert not relative, relative


def test_the_pattern_catches_what_it_should():
    assert RELATIVE_LINK.findall("链接 /aftercare/s/abc/ ，有效") == ["/aftercare/"]
    assert not RELATIVE_LINK.findall(f"链接 {SITE}/aftercare/s/abc/ ，11/30 到期")


def test_manager_reads_what_the_demo_sent_with_the_code_unmasked(
    demo_tenant, session_client, tenant_b, make_staff
):
    tenant, staff = demo_tenant
    with tenant_context(tenant):
        _code_sms(tenant)
        sms = SmsMessage.objects.get(dedupe_key__startswith="projects:co-code")
        notification = Notification.objects.exclude(link="").first()
        Delivery.objects.create(
            tenant=tenant,
            notification=notification,
            channel=Channel.EMAIL,
            dedupe_key="x",
            target="pm@example.com",
        )
    code = re.search(r"验证码 (\d{6})", sms.message).group(1)
    manager = session_client(staff["manager"])
    with override_settings(**DEMO):
        page = manager.get("/notifications/demo-outbox/")
        assert page.status_code == 200
        body = page.content.decode()
        assert f"验证码 {code}" in body
        assert notification.title in body and "pm@example.com" in body
        assert 'href="/notifications/demo-outbox/"' in manager.get("/").content.decode()  # in the navigation
        sales = Client()
        sales.force_login(staff["sales"], backend="django.contrib.auth.backends.ModelBackend")
        assert sales.get("/notifications/demo-outbox/").status_code == 403
        other = Client()
        other.force_login(
            make_staff(tenant_b, Role.MANAGER), backend="django.contrib.auth.backends.ModelBackend"
        )
        elsewhere = other.get("/notifications/demo-outbox/").content.decode()
        assert code not in elsewhere and "还没有短信" in elsewhere  # another tenant's outbox
    # Outside the demo, or once a real provider is configured, the page and its link are gone.
    assert manager.get("/notifications/demo-outbox/").status_code == 404
    assert "/notifications/demo-outbox/" not in manager.get("/").content.decode()
    with override_settings(
        **{**DEMO, "CRM_SMS_BACKEND": "tests.notifications.test_delivery.FlakySmsBackend"}
    ):
        assert manager.get("/notifications/demo-outbox/").status_code == 404
    with override_settings(**{**DEMO, "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend"}):
        assert manager.get("/notifications/demo-outbox/").status_code == 404


def test_demo_outbox_shows_the_marketing_e_mail_with_its_unsubscribe_link(demo_tenant, session_client):
    """The demo's e-mail push rule reached customers who opted in to e-mail; the page shows them."""
    from crm.notifications.models import OutboundEmail
    from engagement.models import DispatchStatus, PushDispatch, SkipReason

    tenant, staff = demo_tenant
    with tenant_context(tenant):
        emails = list(OutboundEmail.objects.all())
        skipped = PushDispatch.objects.filter(
            status=DispatchStatus.SKIPPED, skip_reason=SkipReason.NO_ADDRESS
        )
        assert skipped.exists(), "one customer opted in without an address: recorded, not sent"
    assert emails and all(email.address.endswith("@example.com") for email in emails)
    assert all("/engagement/u/" in email.body and email.headers["List-Unsubscribe"] for email in emails)
    with override_settings(**DEMO):
        page = session_client(staff["manager"]).get("/notifications/demo-outbox/").content.decode()
    assert 'id="demo-customer-email"' in page
    assert "小户型收纳方案" in page and emails[0].address in page
