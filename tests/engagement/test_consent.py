"""Consent (PIPL): recorded opt-in, append-only history, one-click opt-out, refused sends, export."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.urls import reverse

from crm.notifications.models import Notification, SmsMessage
from crm.tenancy import tenant_context
from engagement.models import Consent, ConsentEvent
from engagement.services.consent import consent_record, opt_out_token, opt_out_url
from engagement.services.sending import marketing_send
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _grant(tenant, customer, channel="sms", **extra):
    return consent_record(
        tenant=tenant, customer=customer, channel=channel, state="granted", source="signup_page", **extra
    )


def test_record_appends_history_once_per_change(tenant_a, manager_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        _grant(tenant_a, customer)
        _grant(tenant_a, customer)  # same state, source, version: nothing new
        consent_record(
            tenant=tenant_a,
            customer=customer,
            channel="sms",
            state="withdrawn",
            source="staff",
            reason="客户电话要求不再发短信",
            actor=manager_a,
        )
        events = list(ConsentEvent.objects.order_by("occurred_at", "id"))
        consent = Consent.objects.get(customer=customer, channel="sms")
    assert [(e.state, e.source) for e in events] == [("granted", "signup_page"), ("withdrawn", "staff")]
    assert events[1].actor_name == str(manager_a) and events[1].version == "2025-01"
    assert consent.state == "withdrawn" and consent.reason == "客户电话要求不再发短信"


def test_staff_entry_without_reason_is_refused_and_writes_nothing(tenant_a, manager_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        with pytest.raises(ValidationError) as error:
            consent_record(
                tenant=tenant_a,
                customer=customer,
                channel="sms",
                state="granted",
                source="staff",
                actor=manager_a,
            )
        assert error.value.error_dict["reason"][0].code == "reason_required"
        assert not Consent.objects.exists() and not ConsentEvent.objects.exists()


def test_history_rows_cannot_be_updated(tenant_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        _grant(tenant_a, customer)
        with pytest.raises(DatabaseError), transaction.atomic():
            ConsentEvent.objects.update(state="withdrawn")
        assert ConsentEvent.objects.get().state == "granted"


def test_send_requires_opt_in_and_carries_opt_out_link(tenant_a):
    with tenant_context(tenant_a):
        never, granted = CustomerFactory(tenant=tenant_a), CustomerFactory(tenant=tenant_a)
        _grant(tenant_a, granted)
        with pytest.raises(ValidationError) as error:
            marketing_send(
                tenant=tenant_a, customer=never, channel="sms", title="家博会", body="", dedupe_key="k1"
            )
        assert error.value.error_dict["customer"][0].code == "opted_out"
        marketing_send(
            tenant=tenant_a, customer=granted, channel="sms", title="家博会", body="", dedupe_key="k2"
        )
        sms = SmsMessage.objects.get()
    assert sms.phone == granted.phone and sms.dedupe_key == "k2"
    assert opt_out_url(tenant=tenant_a, customer_id=granted.pk, channel="sms") in sms.message


def test_one_click_opt_out_page_then_sending_is_refused(tenant_a, client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        _grant(tenant_a, customer)
        _grant(tenant_a, customer, channel="wechat")
    url = reverse(
        "engagement:opt-out", args=[opt_out_token(tenant=tenant_a, customer_id=customer.pk, channel="sms")]
    )
    page = client.get(url)
    assert page.status_code == 200 and tenant_a.name in page.content.decode()
    with tenant_context(tenant_a):
        assert Consent.objects.get(customer=customer, channel="sms").state == "granted"  # GET changes nothing
    done = client.post(url, {})
    assert done.status_code == 200
    with tenant_context(tenant_a):
        states = dict(Consent.objects.filter(customer=customer).values_list("channel", "state"))
        assert states == {"sms": "withdrawn", "wechat": "granted"}
        assert ConsentEvent.objects.filter(source="opt_out_link").count() == 1
        with pytest.raises(ValidationError):
            marketing_send(
                tenant=tenant_a, customer=customer, channel="sms", title="t", body="", dedupe_key="x"
            )
        assert not SmsMessage.objects.exists()
    client.post(url, {"all_channels": "on"})
    with tenant_context(tenant_a):
        assert set(Consent.objects.filter(customer=customer).values_list("state", flat=True)) == {"withdrawn"}
        with pytest.raises(ValidationError):
            marketing_send(
                tenant=tenant_a, customer=customer, channel="wechat", title="t", body="", dedupe_key="y"
            )
        assert not Notification.objects.exists()


def test_forged_or_tampered_opt_out_token_is_404(tenant_a, tenant_b, client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        _grant(tenant_a, customer)
    token = opt_out_token(tenant=tenant_a, customer_id=customer.pk, channel="sms")
    for bad in (token[:-2] + "xx", "abc", "x" * 400):
        assert client.post(reverse("engagement:opt-out", args=[bad])).status_code == 404
    # A valid token of tenant B naming tenant A's customer id touches nothing in tenant A.
    forged = opt_out_token(tenant=tenant_b, customer_id=customer.pk, channel="sms")
    assert client.post(reverse("engagement:opt-out", args=[forged])).status_code == 200
    with tenant_context(tenant_a):
        assert Consent.objects.get(customer=customer).state == "granted"


def test_consent_history_is_in_personal_data_export(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        _grant(tenant_a, customer)
    data = session_client(manager_a).get(reverse("customers:personal-data", args=[customer.pk])).json()
    assert [(row["channel"], row["state"], row["source"]) for row in data["consent_history"]] == [
        ("sms", "granted", "signup_page")
    ]
    assert data["consent_history"][0]["version"] == "2025-01"


def test_customer_page_panel_and_staff_entry(tenant_a, sales_a, session_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    client = session_client(sales_a)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "未授权（不可营销）" in page
    url = reverse("engagement:consent-record", args=[customer.pk])
    client.post(url, {"channel": "wechat", "state": "granted", "reason": ""})
    with tenant_context(tenant_a):
        assert not Consent.objects.exists()
    client.post(url, {"channel": "wechat", "state": "granted", "reason": "到店时口头同意"})
    with tenant_context(tenant_a):
        consent = Consent.objects.get()
    assert (consent.channel, consent.source, consent.changed_by) == ("wechat", "staff", sales_a)


def test_api_records_consent_and_rejects_bad_input(tenant_a, manager_a, token_client):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    api = token_client(manager_a)
    bad = api.post(
        "/api/v1/consents/",
        {"customer": customer.pk, "channel": "sms", "state": "granted", "source": "staff"},
        format="json",
    )
    assert bad.status_code == 400 and "reason" in bad.json()["errors"]
    bad = api.post(
        "/api/v1/consents/", {"customer": customer.pk, "channel": "fax", "state": "granted"}, format="json"
    )
    assert bad.status_code == 400 and "channel" in bad.json()["errors"]
    with tenant_context(tenant_a):
        assert not ConsentEvent.objects.exists()
    ok = api.post(
        "/api/v1/consents/", {"customer": customer.pk, "channel": "sms", "state": "granted"}, format="json"
    )
    assert ok.status_code == 201, ok.json()
    detail = api.get(f"/api/v1/consents/{ok.json()['id']}/").json()
    assert detail["state"] == "granted" and len(detail["history"]) == 1
