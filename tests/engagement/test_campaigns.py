"""Campaigns and offers: validation, public sign-up (lead + consent), check-in, redemption, figures."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from crm.tenancy import tenant_context
from customers.models import Customer, Lead
from engagement.models import Campaign, CampaignSignup, Consent, Offer, Redemption
from engagement.selectors import campaign_figures
from engagement.services.campaigns import (
    campaign_save,
    campaign_signup,
    offer_redeem,
    offer_save,
    signup_check_in,
    signup_token,
)
from projects.models import Project

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def _campaign(tenant, **extra) -> Campaign:
    values = {
        "name": "秋季家博会",
        "channel": "home_expo",
        "starts_on": TODAY - datetime.timedelta(days=5),
        "ends_on": TODAY + datetime.timedelta(days=5),
        "spend_fen": 1_000_000,
    }
    values.update(extra)
    return campaign_save(tenant=tenant, **values)


def _sign(tenant, campaign, index: int) -> CampaignSignup:
    return campaign_signup(
        tenant=tenant, campaign=campaign, name=f"报名{index}", phone=f"1390000{index:04d}", consent=True
    )


def test_campaign_ending_before_start_is_refused(tenant_a):
    with tenant_context(tenant_a):
        with pytest.raises(ValidationError) as error:
            _campaign(tenant_a, ends_on=TODAY - datetime.timedelta(days=10))
        assert error.value.error_dict["ends_on"][0].code == "ends_before_start"
        assert not Campaign.objects.exists()


def test_signup_creates_lead_and_consent_once_and_needs_consent(tenant_a):
    with tenant_context(tenant_a):
        campaign = _campaign(tenant_a)
        with pytest.raises(ValidationError) as error:
            campaign_signup(
                tenant=tenant_a, campaign=campaign, name="王芳", phone="13900001111", consent=False
            )
        assert "consent" in error.value.error_dict
        assert not Customer.objects.exists() and not Lead.objects.exists()
        first = campaign_signup(
            tenant=tenant_a, campaign=campaign, name="王芳", phone="13900001111", consent=True
        )
        again = campaign_signup(
            tenant=tenant_a, campaign=campaign, name="王芳", phone="139 0000 1111", consent=True
        )
        assert first.pk == again.pk and Lead.objects.count() == 1
        lead = Lead.objects.get()
        assert lead.source_channel == "home_expo" and first.lead == lead
        consent = Consent.objects.get(customer=lead.customer)
        assert (consent.channel, consent.state, consent.source) == ("sms", "granted", "signup_page")
        checked = signup_check_in(tenant=tenant_a, signup=first)
        assert checked.checked_in_at is not None
        assert signup_check_in(tenant=tenant_a, signup=first).checked_in_at == checked.checked_in_at


def test_public_signup_page(tenant_a, client):
    with tenant_context(tenant_a):
        campaign = _campaign(tenant_a)
    url = reverse("engagement:signup", args=[signup_token(campaign)])
    page = client.get(url)
    assert page.status_code == 200 and "秋季家博会" in page.content.decode()
    refused = client.post(url, {"name": "李娜", "phone": "13900002222"})
    assert refused.status_code == 400
    with tenant_context(tenant_a):
        assert not CampaignSignup.objects.exists()
    done = client.post(url, {"name": "李娜", "phone": "13900002222", "consent": "on"})
    assert done.status_code == 200
    with tenant_context(tenant_a):
        assert CampaignSignup.objects.get().customer.name == "李娜"
    assert client.get(reverse("engagement:signup", args=["forged:token"])).status_code == 404


def test_redemption_once_within_validity_and_quantity(tenant_a, manager_a):
    with tenant_context(tenant_a):
        campaign = _campaign(tenant_a)
        offer = offer_save(
            tenant=tenant_a,
            campaign=campaign,
            name="家电代金券",
            kind="voucher",
            value_fen=200_000,
            valid_from=TODAY,
            valid_until=TODAY + datetime.timedelta(days=30),
            quantity=1,
        )
        one, two = _sign(tenant_a, campaign, 1), _sign(tenant_a, campaign, 2)
        offer_redeem(tenant=tenant_a, offer=offer, customer=one.customer, redeemed_by=manager_a)
        with pytest.raises(ValidationError) as error:
            offer_redeem(tenant=tenant_a, offer=offer, customer=one.customer)
        assert error.value.error_dict["offer"][0].code == "offer_exhausted"
        with pytest.raises(ValidationError) as error:
            offer_redeem(tenant=tenant_a, offer=offer, customer=two.customer)
        assert error.value.error_dict["offer"][0].code == "offer_exhausted"
        assert Redemption.objects.count() == 1
        with pytest.raises(ValidationError) as error:
            offer_save(
                tenant=tenant_a,
                name="x",
                kind="voucher",
                valid_from=TODAY,
                valid_until=TODAY - datetime.timedelta(days=1),
            )
        assert "valid_until" in error.value.error_dict
        assert Offer.objects.count() == 1


def test_campaign_figures_on_a_hand_built_dataset(tenant_a):
    with tenant_context(tenant_a):
        expo = _campaign(tenant_a)
        online = _campaign(tenant_a, name="抖音直播", channel="douyin", spend_fen=0)
        empty = _campaign(tenant_a, name="小区团购", channel="community_event", spend_fen=50_000)
        signed, talked, signed_before, cancelled = (_sign(tenant_a, expo, i) for i in range(4))
        campaign_signup(tenant=tenant_a, campaign=online, name="x", phone=signed.customer.phone, consent=True)
        now = timezone.now()
        Lead.objects.filter(pk__in=[signed.lead_id, talked.lead_id]).update(first_responded_at=now)
        Customer.objects.filter(pk=signed.customer_id).update(measured_at=now)
        signup_check_in(tenant=tenant_a, signup=talked)

        def project(customer_id, amount, signed_on, **extra):
            Project.objects.create(
                customer_id=customer_id,
                name="p",
                contract_number=f"C{customer_id}-{amount}",
                contract_amount_fen=amount,
                signed_on=signed_on,
                **extra,
            )

        project(signed.customer_id, 20_000_000, TODAY)  # ¥200,000
        project(signed.customer_id, 5_000_000, TODAY + datetime.timedelta(days=20))  # ¥50,000
        project(signed_before.customer_id, 30_000_000, TODAY - datetime.timedelta(days=10))
        project(cancelled.customer_id, 40_000_000, TODAY, cancelled_at=now)
        figures = campaign_figures(tenant=tenant_a)
    assert figures[expo.pk] == {
        "leads": 4,
        "responded": 2,
        "measured": 1,
        "checked_in": 1,
        "signed": 1,
        "contract_value_fen": 25_000_000,
        "spend_fen": 1_000_000,
        "cost_per_signed_fen": 1_000_000,
        "roi": 24.0,
    }
    assert figures[online.pk]["signed"] == 1 and figures[online.pk]["roi"] is None
    assert figures[empty.pk]["leads"] == 0 and figures[empty.pk]["roi"] == -1.0
    assert figures[empty.pk]["cost_per_signed_fen"] is None


@pytest.fixture
def intake_api(tenant_a):
    from rest_framework.test import APIClient

    from customers.services import settings as settings_services

    with tenant_context(tenant_a):
        key = settings_services.intake_key_rotate(tenant=tenant_a)
    client = APIClient()
    client.credentials(HTTP_X_INTAKE_KEY=key)
    return client


def test_intake_campaign_code_signs_up_with_consent_and_refuses_bad_input(tenant_a, intake_api):
    with tenant_context(tenant_a):
        campaign = _campaign(tenant_a, code="expo-2026")
        _campaign(
            tenant_a,
            name="旧活动",
            code="old",
            starts_on=TODAY - datetime.timedelta(days=30),
            ends_on=TODAY - datetime.timedelta(days=20),
        )
        with pytest.raises(ValidationError) as error:
            _campaign(tenant_a, name="重复", code="expo-2026")
        assert error.value.error_dict["code"][0].code == "duplicate_code"
    body = {
        "name": "王女士",
        "phone": "13900001111",
        "source_channel": "home_expo",
        "campaign_code": "expo-2026",
    }
    no_consent = intake_api.post("/api/v1/intake/", body, format="json")
    assert no_consent.status_code == 400 and "marketing_consent" in no_consent.json()["errors"]
    unknown = intake_api.post(
        "/api/v1/intake/", {**body, "campaign_code": "nope", "marketing_consent": True}, format="json"
    )
    assert unknown.status_code == 400 and "campaign_code" in unknown.json()["errors"]
    closed = intake_api.post(
        "/api/v1/intake/", {**body, "campaign_code": "old", "marketing_consent": True}, format="json"
    )
    assert closed.status_code == 400
    with tenant_context(tenant_a):
        assert not Customer.objects.exists() and not Lead.objects.exists()
    ok = intake_api.post("/api/v1/intake/", {**body, "marketing_consent": True}, format="json")
    assert ok.status_code == 201, ok.json()
    with tenant_context(tenant_a):
        signup = CampaignSignup.objects.get()
        assert (signup.campaign, signup.lead_id, signup.source) == (campaign, ok.json()["id"], "api")
        consent = Consent.objects.get(customer=signup.customer)
        assert (consent.channel, consent.state, consent.source) == ("sms", "granted", "intake_form")
        assert campaign_figures(tenant=tenant_a, campaign_ids=[campaign.pk])[campaign.pk]["leads"] == 1
