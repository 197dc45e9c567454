"""Push rules on the e-mail channel: consent, the durable outbox, exactly once, the tracked link, the
one-click unsubscribe (body link and List-Unsubscribe header) and customers without an address."""

from __future__ import annotations

import datetime
import re
import urllib.parse

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from crm.notifications import tasks as notification_tasks
from crm.notifications.models import OutboundEmail, OutboundStatus
from crm.tenancy import tenant_context
from customers.services.customers import customer_update
from engagement.models import Consent, ContentItem, DispatchStatus, PushDispatch, SkipReason
from engagement.services.campaigns import campaign_save, campaign_signup
from engagement.services.consent import consent_record
from engagement.services.pushes import push_pending_send_due, push_preview, push_rule_run, push_rule_save
from engagement.services.sending import marketing_send
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
SITE = "https://crm.example.com"
NOON = timezone.make_aware(datetime.datetime.combine(timezone.localdate(), datetime.time(12, 0)))


def _item(tenant) -> ContentItem:
    return ContentItem.objects.create(
        tenant=tenant,
        title="儿童房安全设计指南",
        kind="article",
        summary="圆角家具、防滑地面、插座保护。",
        url="https://example.com/kids",
        tags=["儿童房"],
    )


def _family(tenant, email: str = "", consent: bool = True, **extra):
    customer = CustomerFactory(tenant=tenant, tags=["儿童房"], email=email, **extra)
    if consent:
        consent_record(
            tenant=tenant, customer=customer, channel="email", state="granted", source="intake_form"
        )
    return customer


def _rule(tenant, item, **extra):
    values = {
        "name": "儿童房指南（邮件）",
        "item": item,
        "channel": "email",
        "audience_tags": ["儿童房"],
        "control_percent": 0,
        **extra,
    }
    return push_rule_save(tenant=tenant, **values)


def _send_pending(tenant) -> list[str | None]:
    """What the ``notifications.send_email`` task does for each row queued after commit."""
    with tenant_context(tenant):
        ids = list(OutboundEmail.objects.order_by("id").values_list("pk", flat=True))
    return [
        notification_tasks.send_email.apply(kwargs={"tenant_id": tenant.pk, "email_id": pk}).get()
        for pk in ids
    ]


@override_settings(SITE_URL=SITE)
def test_email_push_is_sent_once_with_a_working_unsubscribe_that_blocks_the_next_push(tenant_a):
    with tenant_context(tenant_a):
        item = _item(tenant_a)
        zhang = _family(tenant_a, "zhang.wei@example.com")
        li = _family(tenant_a, "li.na@example.com")
        _family(tenant_a, "no.consent@example.com", consent=False)  # never opted in: nothing sent
        consent_record(  # opted in to SMS only: no e-mail either
            tenant=tenant_a, customer=_family(tenant_a, "sms.only@example.com", consent=False),
            channel="sms", state="granted", source="intake_form",
        )  # fmt: skip
        rule = _rule(tenant_a, item)
        assert push_preview(tenant=tenant_a, rule=rule, now=NOON)["would_send"] == 2
        first = push_rule_run(tenant=tenant_a, rule=rule, now=NOON)
        again = push_rule_run(tenant=tenant_a, rule=rule, now=NOON)
        assert first["sent"] == 2 and again["sent"] == 0
        assert OutboundEmail.objects.count() == 2
    assert _send_pending(tenant_a) == [OutboundStatus.SENT, OutboundStatus.SENT]
    assert _send_pending(tenant_a) == [None, None]  # a redelivered task sends nothing twice
    assert sorted(message.to[0] for message in mail.outbox) == ["li.na@example.com", "zhang.wei@example.com"]
    message = next(m for m in mail.outbox if m.to == ["zhang.wei@example.com"])
    assert message.subject == f"[{tenant_a.name}] 儿童房安全设计指南"
    assert "圆角家具" in message.body and f"{SITE}/engagement/t/" in message.body
    unsubscribe = re.fullmatch(r"<(.+)>", message.extra_headers["List-Unsubscribe"]).group(1)
    assert unsubscribe.startswith(f"{SITE}/engagement/u/") and unsubscribe in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["Message-ID"].startswith("<crm-outboundemail-")

    # The mail client's one-click unsubscribe (RFC 8058): a POST without cookies or CSRF token.
    path = urllib.parse.urlsplit(unsubscribe).path
    response = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    with tenant_context(tenant_a):
        assert Consent.objects.get(customer=zhang, channel="email").state == "withdrawn"
        next_rule = _rule(tenant_a, item, name="环保材料清单（邮件）")
        assert push_rule_run(tenant=tenant_a, rule=next_rule, now=NOON)["sent"] == 1
        assert not PushDispatch.objects.filter(rule=next_rule, customer=zhang).exists()
        assert list(OutboundEmail.objects.filter(dedupe_key__startswith=f"push:{next_rule.pk}:")
                    .values_list("address", flat=True)) == [li.email]  # fmt: skip
        with pytest.raises(ValidationError) as error:
            marketing_send(
                tenant=tenant_a, customer=zhang, channel="email", title="t", body="b", dedupe_key="direct"
            )
        assert error.value.error_dict["customer"][0].code == "opted_out"


def test_no_consent_means_nothing_is_sent(tenant_a):
    with tenant_context(tenant_a):
        item = _item(tenant_a)
        customer = _family(tenant_a, "zhang.wei@example.com", consent=False)
        with pytest.raises(ValidationError) as error:  # nobody opted in: an empty audience
            _rule(tenant_a, item)
        assert error.value.error_dict["audience_tags"][0].code == "empty_audience"
        with pytest.raises(ValidationError) as error:
            marketing_send(
                tenant=tenant_a, customer=customer, channel="email", title="t", body="b", dedupe_key="k"
            )
        assert error.value.error_dict["customer"][0].code == "opted_out"
        assert not OutboundEmail.objects.exists() and not PushDispatch.objects.exists()
    assert mail.outbox == []


def test_customer_without_address_is_skipped_with_the_reason_then_sent_once_the_address_is_on_file(
    tenant_a, manager_a
):
    with tenant_context(tenant_a):
        item = _item(tenant_a)
        _family(tenant_a, "zhang.wei@example.com")
        missing = _family(tenant_a, "")
        rule = _rule(tenant_a, item)
        preview = push_preview(tenant=tenant_a, rule=rule, now=NOON)
        assert (preview["audience"], preview["no_address"], preview["would_send"]) == (2, 1, 1)
        assert push_rule_run(tenant=tenant_a, rule=rule, now=NOON)["sent"] == 1
        skipped = PushDispatch.objects.get(customer=missing)
        assert (skipped.status, skipped.skip_reason) == (DispatchStatus.SKIPPED, SkipReason.NO_ADDRESS)
        assert push_rule_run(tenant=tenant_a, rule=rule, now=NOON)["sent"] == 0  # still no address
        customer_update(tenant=tenant_a, customer=missing, updated_by=manager_a, email="Late@Example.com")
        assert push_rule_run(tenant=tenant_a, rule=rule, now=NOON)["sent"] == 1
        assert push_rule_run(tenant=tenant_a, rule=rule, now=NOON)["sent"] == 0
        assert PushDispatch.objects.filter(customer=missing).count() == 1  # the same row, now sent
        assert PushDispatch.objects.get(customer=missing).status == DispatchStatus.SENT
        assert sorted(OutboundEmail.objects.values_list("address", flat=True)) == [
            "late@example.com",
            "zhang.wei@example.com",
        ]


def test_address_removed_during_quiet_hours_is_skipped_with_the_reason(tenant_a, manager_a):
    with tenant_context(tenant_a):
        item = _item(tenant_a)
        customer = _family(tenant_a, "zhang.wei@example.com")
        rule = _rule(tenant_a, item)
        night = NOON.replace(hour=23)
        from engagement.services.pushes import push_rule_fire

        assert (
            push_rule_fire(tenant=tenant_a, rule=rule, customer_id=customer.pk, trigger_ref="t", now=night)
            == DispatchStatus.PENDING
        )
        customer_update(tenant=tenant_a, customer=customer, updated_by=manager_a, email="")
        push_pending_send_due(tenant=tenant_a, now=night + datetime.timedelta(hours=11))
        dispatch = PushDispatch.objects.get()
        assert (dispatch.status, dispatch.skip_reason) == (DispatchStatus.SKIPPED, SkipReason.NO_ADDRESS)
        assert not OutboundEmail.objects.exists()


def test_sign_up_page_records_the_e_mail_opt_in(tenant_a, client):
    from engagement.services.campaigns import signup_token

    with tenant_context(tenant_a):
        today = timezone.localdate()
        campaign = campaign_save(
            tenant=tenant_a,
            name="秋季家博会",
            channel="home_expo",
            starts_on=today,
            ends_on=today + datetime.timedelta(days=5),
        )
    url = reverse("engagement:signup", args=[signup_token(campaign)])
    refused = client.post(
        url, {"name": "张伟", "phone": "13812345678", "consent": "on", "email_consent": "on"}
    )
    assert refused.status_code == 400 and "email" in refused.context["form"].errors
    response = client.post(
        url,
        {
            "name": "张伟",
            "phone": "13812345678",
            "email": "Zhang.Wei@Example.com",
            "consent": "on",
            "email_consent": "on",
        },
    )
    assert response.status_code == 200 and response.context["done"]
    with tenant_context(tenant_a):
        consents = dict(Consent.objects.values_list("channel", "source"))
        signup = campaign.signups.select_related("customer").get()
    assert consents == {"sms": "signup_page", "email": "signup_page"}
    assert signup.customer.email == "zhang.wei@example.com"
    with tenant_context(tenant_a):  # signing up again without the e-mail box changes nothing
        campaign_signup(tenant=tenant_a, campaign=campaign, name="张伟", phone="13812345678", consent=True)
        assert Consent.objects.count() == 2


def test_staff_records_e_mail_consent_from_the_customer_page(tenant_a, make_staff, session_client):
    from crm.models import Role

    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=sales, email="zhang.wei@example.com")
    response = session_client(sales).post(
        reverse("engagement:consent-record", args=[customer.pk]),
        {"channel": "email", "state": "granted", "reason": "客户到店时同意接收邮件资料"},
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        consent = Consent.objects.get(customer=customer)
    assert (consent.channel, consent.state, consent.source) == ("email", "granted", "staff")


def test_email_rule_from_the_page_and_the_api(tenant_a, manager_a, session_client, token_client):
    with tenant_context(tenant_a):
        item = _item(tenant_a)
        _family(tenant_a, "zhang.wei@example.com")
    created = token_client(manager_a).post(
        "/api/v1/push-rules/",
        {"name": "邮件规则", "item": item.pk, "channel": "email", "audience_tags": ["儿童房"]},
        format="json",
    )
    assert created.status_code == 201, created.json()
    preview = token_client(manager_a).get(f"/api/v1/push-rules/{created.json()['id']}/preview/").json()
    assert preview["no_address"] == 0 and preview["audience"] == 1
    page = session_client(manager_a).get(reverse("engagement:push-rules")).content.decode()
    assert '<option value="email"' in page
