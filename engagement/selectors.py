"""Reads shared by the engagement pages, API and the customer-page panel."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from crm.extensions import TimelineEntry
from crm.models import Tenant
from customers.models import LeadStatus
from engagement.models import (
    Campaign,
    CampaignSignup,
    Consent,
    ConsentChannel,
    ConsentEvent,
    LeadScore,
    LeadScoringModel,
)


def consent_overview(*, tenant: Tenant, customer_id: int) -> list[dict]:
    """One entry per channel: the current consent row, or None (never opted in)."""
    rows = {row.channel: row for row in Consent.objects.filter(customer_id=customer_id)}
    return [
        {"channel": value, "label": label, "consent": rows.get(value)}
        for value, label in ConsentChannel.choices
    ]


def consent_history(*, tenant: Tenant, customer_id: int) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(customer_id=customer_id).order_by("-occurred_at", "-id")


def lead_score_for_customer(*, tenant: Tenant, customer_id: int) -> dict | None:
    """The customer's latest lead score for the customer-page panel."""
    score = LeadScore.objects.filter(customer_id=customer_id).order_by("-lead__received_at").first()
    if score is None:
        return None
    return {
        "percent": f"{score.score * 100:.0f}%",
        "method_label": score.get_method_display(),
        "factors": score.factors,
    }


def scored_open_leads(*, tenant: Tenant, limit: int = 200) -> list[LeadScore]:
    """The lead inbox by score: open leads (and those answered recently), most promising first."""
    return list(
        LeadScore.objects.filter(lead__status__in=[LeadStatus.OPEN, LeadStatus.RESPONDED])
        .select_related("lead__assignee", "customer")
        .order_by("-score", "lead__first_response_due_at", "id")[:limit]
    )


def scoring_model(*, tenant: Tenant) -> LeadScoringModel | None:
    return LeadScoringModel.objects.filter(tenant=tenant).defer("model_bytes").first()


def push_timeline(*, tenant: Tenant, customer_id: int) -> list[TimelineEntry]:  # noqa: ARG001 - event payload field
    return []


def campaign_figures(*, tenant: Tenant, campaign_ids: list[int] | None = None) -> dict[int, dict]:
    """Per campaign, in one aggregate query: sign-ups (leads), responded, measured, checked in,
    signed customers and their contract value (contracts signed on or after the sign-up day, not
    cancelled), cost per signed customer and ROI. Amounts in fen. Feeds the channel analytics."""
    signed = Q(
        customer__projects__signed_on__gte=TruncDate("signed_up_at"),
        customer__projects__cancelled_at__isnull=True,
    )
    rows = (
        CampaignSignup.objects.filter(tenant=tenant)
        .filter(**({"campaign_id__in": campaign_ids} if campaign_ids is not None else {}))
        .values("campaign_id")
        .annotate(
            leads=Count("id", distinct=True),
            responded=Count("id", distinct=True, filter=Q(lead__first_responded_at__isnull=False)),
            measured=Count("id", distinct=True, filter=Q(customer__measured_at__isnull=False)),
            checked_in=Count("id", distinct=True, filter=Q(checked_in_at__isnull=False)),
            signed=Count("customer_id", distinct=True, filter=signed),
            contract_fen=Sum("customer__projects__contract_amount_fen", filter=signed),
        )
    )
    by_campaign = {row["campaign_id"]: row for row in rows}
    campaigns = Campaign.objects.filter(tenant=tenant)
    if campaign_ids is not None:
        campaigns = campaigns.filter(pk__in=campaign_ids)
    figures = {}
    for campaign_id, spend in campaigns.values_list("id", "spend_fen"):
        row = by_campaign.get(campaign_id, {})
        signed_count = row.get("signed", 0)
        value_fen = int(row.get("contract_fen") or 0)
        figures[campaign_id] = {
            "leads": row.get("leads", 0),
            "responded": row.get("responded", 0),
            "measured": row.get("measured", 0),
            "checked_in": row.get("checked_in", 0),
            "signed": signed_count,
            "contract_value_fen": value_fen,
            "spend_fen": spend,
            "cost_per_signed_fen": spend // signed_count if signed_count else None,
            "roi": round((value_fen - spend) / spend, 4) if spend else None,
        }
    return figures
