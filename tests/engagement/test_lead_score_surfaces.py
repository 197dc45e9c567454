"""Lead scores where sales work: on /api/v1/leads/ (score + top factors) and the inbox sorted by score."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from crm.tenancy import tenant_context
from engagement.services.scoring import lead_scoring_train
from tests.customers.factories import CustomerFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_leads_api_carries_scores_and_the_inbox_sorts_by_them(
    tenant_a, manager_a, token_client, session_client
):
    with tenant_context(tenant_a):
        # Urgency order: low budget first; score order (rules: budget tier): high budget first.
        low = LeadFactory(
            tenant=tenant_a, customer=CustomerFactory(tenant=tenant_a, name="低预算", budget_tier="low")
        )
        high = LeadFactory(
            tenant=tenant_a,
            customer=CustomerFactory(tenant=tenant_a, name="高预算", budget_tier="high"),
            first_response_due_at=low.first_response_due_at + datetime.timedelta(minutes=5),
        )
        lead_scoring_train(tenant=tenant_a)
    rows = {row["id"]: row for row in token_client(manager_a).get("/api/v1/leads/").json()["results"]}
    assert rows[high.pk]["score"]["score"] > rows[low.pk]["score"]["score"]
    assert rows[high.pk]["score"]["method"] == "rules" and rows[high.pk]["score"]["factors"][0]["label"]
    detail = token_client(manager_a).get(f"/api/v1/leads/{high.pk}/").json()
    assert detail["score"] == rows[high.pk]["score"]
    client = session_client(manager_a)
    urgent = client.get(reverse("customers:lead-inbox")).content.decode()
    assert urgent.index("低预算") < urgent.index("高预算")
    by_score = client.get(reverse("customers:lead-inbox"), {"sort": "score"}).content.decode()
    assert by_score.index("高预算") < by_score.index("低预算") and "lead-score" in by_score
