"""Engagement factories (also registered for the cross-tenant probe)."""

from __future__ import annotations

import datetime

from django.utils import timezone

from engagement.models import Campaign, Consent, ContentItem, LeadScore, Offer, PushRule
from tests.customers.factories import CustomerFactory, LeadFactory
from tests.factories import probe_factory


@probe_factory(Consent)
def _consent(tenant) -> Consent:
    return Consent.objects.create(
        tenant=tenant,
        customer=CustomerFactory(tenant=tenant),
        channel="sms",
        state="granted",
        source="staff",
        version="2025-01",
        reason="probe",
        changed_at=timezone.now(),
    )


@probe_factory(LeadScore)
def _lead_score(tenant) -> LeadScore:
    lead = LeadFactory(tenant=tenant)
    return LeadScore.objects.create(
        tenant=tenant,
        lead=lead,
        customer=lead.customer,
        score=0.5,
        method="rules",
        computed_at=timezone.now(),
    )


@probe_factory(Campaign)
def _campaign(tenant) -> Campaign:
    today = datetime.date.today()
    return Campaign.objects.create(
        tenant=tenant, name="家博会", channel="home_expo", starts_on=today, ends_on=today
    )


@probe_factory(Offer)
def _offer(tenant) -> Offer:
    today = datetime.date.today()
    return Offer.objects.create(
        tenant=tenant,
        campaign=_campaign(tenant),
        name="代金券",
        kind="voucher",
        valid_from=today,
        valid_until=today,
    )


@probe_factory(ContentItem)
def _content(tenant) -> ContentItem:
    return ContentItem.objects.create(tenant=tenant, title="儿童房指南", kind="article", tags=["儿童房"])


@probe_factory(PushRule)
def _push_rule(tenant) -> PushRule:
    return PushRule.objects.create(
        tenant=tenant, name="规则", item=_content(tenant), channel="sms", audience_tags=["儿童房"]
    )
