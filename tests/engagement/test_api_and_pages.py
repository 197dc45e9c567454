"""Engagement API (bad input = 400 with field messages, nothing written) and manager pages."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from crm.tenancy import tenant_context
from engagement.models import Campaign, Offer, Redemption
from engagement.services.scoring import lead_scoring_train
from tests.customers.factories import CustomerFactory, LeadFactory

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def test_campaign_api_validates_and_reports_figures(tenant_a, manager_a, token_client):
    api = token_client(manager_a)
    bad = api.post(
        "/api/v1/campaigns/",
        {
            "name": "家博会",
            "channel": "home_expo",
            "starts_on": str(TODAY),
            "ends_on": str(TODAY - datetime.timedelta(days=1)),
        },
        format="json",
    )
    assert bad.status_code == 400 and "ends_on" in bad.json()["errors"]
    with tenant_context(tenant_a):
        assert not Campaign.objects.exists()
    ok = api.post(
        "/api/v1/campaigns/",
        {
            "name": "家博会",
            "channel": "home_expo",
            "starts_on": str(TODAY),
            "ends_on": str(TODAY),
            "spend_fen": 500,
        },
        format="json",
    )
    assert ok.status_code == 201, ok.json()
    listed = api.get("/api/v1/campaigns/").json()["results"]
    assert listed[0]["figures"]["leads"] == 0 and listed[0]["figures"]["spend_fen"] == 500
    patched = api.patch(f"/api/v1/campaigns/{ok.json()['id']}/", {"ends_on": "2000-01-01"}, format="json")
    assert patched.status_code == 400 and "ends_on" in patched.json()["errors"]


def test_offer_api_and_redeem(tenant_a, manager_a, token_client):
    api = token_client(manager_a)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    offer = api.post(
        "/api/v1/offers/",
        {
            "name": "软装套餐",
            "kind": "package",
            "valid_from": str(TODAY),
            "valid_until": str(TODAY),
            "quantity": 5,
        },
        format="json",
    )
    assert offer.status_code == 201, offer.json()
    url = f"/api/v1/offers/{offer.json()['id']}/redeem/"
    assert api.post(url, {"customer": customer.pk}, format="json").status_code == 201
    again = api.post(url, {"customer": customer.pk}, format="json")
    assert again.status_code == 400 and "offer" in again.json()["errors"]
    with tenant_context(tenant_a):
        assert Redemption.objects.count() == 1 and Offer.objects.count() == 1


def test_lead_score_evaluation_before_training_is_a_documented_404(tenant_a, manager_a, token_client):
    """Fuzzing found the untrained answer outside the schema (``status: null``)."""
    api = token_client(manager_a)
    response = api.get("/api/v1/lead-scores/evaluation/")
    assert response.status_code == 404 and response.json()["detail"]
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/lead-scores/evaluation/"]["get"]
    assert "404" in operation["responses"]
    photos = schema["paths"]["/api/v1/daily-logs/{id}/photos/"]["post"]["responses"]["201"]
    assert photos["content"]["application/json"]["schema"]["type"] == "array"


def test_lead_scores_api_and_pages(tenant_a, manager_a, token_client, session_client):
    with tenant_context(tenant_a):
        lead = LeadFactory(tenant=tenant_a)
        lead_scoring_train(tenant=tenant_a)
    api = token_client(manager_a)
    scores = api.get("/api/v1/lead-scores/", {"lead": lead.pk}).json()["results"]
    assert scores[0]["lead"] == lead.pk and scores[0]["method"] == "rules"
    evaluation = api.get("/api/v1/lead-scores/evaluation/").json()
    assert evaluation["status"] == "too_little_history" and evaluation["reason"]
    client = session_client(manager_a)
    page = client.get(reverse("engagement:scoring")).content.decode()
    assert "历史数据不足" in page and lead.customer.name in page
    assert client.get(reverse("engagement:home")).status_code == 200
    bad = client.post(
        reverse("engagement:home"),
        {"name": "x", "channel": "home_expo", "starts_on": "2030-01-02", "ends_on": "2030-01-01"},
    )
    assert bad.status_code == 400 and "结束日期不能早于开始日期" in bad.content.decode()
    created = client.post(
        reverse("engagement:home"),
        {
            "name": "家博会",
            "channel": "home_expo",
            "starts_on": str(TODAY),
            "ends_on": str(TODAY),
            "spend_fen": "1000.50",
        },
    )
    assert created.status_code == 302
    with tenant_context(tenant_a):
        campaign = Campaign.objects.get()
    assert campaign.spend_fen == 100_050
    detail = client.get(reverse("engagement:campaign-detail", args=[campaign.pk])).content.decode()
    assert "/engagement/c/" in detail
