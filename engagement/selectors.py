"""Reads shared by the engagement pages, API and the customer-page panel."""

from __future__ import annotations

import datetime

from django.db.models import (
    Count,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.extensions import TimelineEntry
from crm.models import Tenant
from customers.models import LeadStatus
from engagement.models import (
    Campaign,
    CampaignSignup,
    Consent,
    ConsentChannel,
    ConsentEvent,
    ContentItem,
    DispatchStatus,
    LeadScore,
    LeadScoringModel,
    Offer,
    PushDispatch,
    PushRule,
    Redemption,
)
from projects.models import Project


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


def lead_scores_by_lead(*, tenant: Tenant, lead_ids: list[int]) -> dict[int, dict]:
    """Score, method and top factors of these leads, in one query (for the lead API and inbox)."""
    rows = LeadScore.objects.filter(tenant=tenant, lead_id__in=lead_ids).values(
        "lead_id", "score", "method", "factors"
    )
    return {
        row["lead_id"]: {"score": round(row["score"], 4), "method": row["method"], "factors": row["factors"]}
        for row in rows
    }


def leads_order_by_score(queryset: QuerySet) -> QuerySet:
    """Leads best score first (unscored last), then the most urgent."""
    score = LeadScore.objects.filter(lead_id=OuterRef("pk")).values("score")[:1]
    return queryset.annotate(lead_score=Subquery(score)).order_by(
        F("lead_score").desc(nulls_last=True), "first_response_due_at", "id"
    )


def scored_open_leads(*, tenant: Tenant, limit: int = 200) -> list[LeadScore]:
    """The lead inbox by score: open leads (and those answered recently), most promising first."""
    return list(
        LeadScore.objects.filter(lead__status__in=[LeadStatus.OPEN, LeadStatus.RESPONDED])
        .select_related("lead__assignee", "customer")
        .order_by("-score", "lead__first_response_due_at", "id")[:limit]
    )


def scoring_model(*, tenant: Tenant) -> LeadScoringModel | None:
    return LeadScoringModel.objects.filter(tenant=tenant).defer("model_bytes").first()


def push_timeline(*, tenant: Tenant, customer_id: int) -> list[TimelineEntry]:
    """Pushes on the customer's timeline: what was sent (or held back as control), opens and clicks."""
    entries = []
    dispatches = (
        PushDispatch.objects.filter(tenant=tenant, customer_id=customer_id)
        .select_related("rule__item")
        .order_by("-decided_at", "-id")[:100]
    )
    for dispatch in dispatches:
        detail = [dispatch.rule.get_channel_display(), dispatch.get_status_display()]
        if dispatch.skip_reason:
            detail.append(dispatch.get_skip_reason_display())
        if dispatch.clicked_at:
            detail.append(_("已点击 %(n)s 次") % {"n": dispatch.click_count})
        elif dispatch.opened_at:
            detail.append(_("已打开 %(n)s 次") % {"n": dispatch.open_count})
        entries.append(
            TimelineEntry(
                occurred_at=dispatch.sent_at or dispatch.decided_at,
                kind="push",
                title=_("内容推送：%(title)s") % {"title": dispatch.rule.item.title},
                detail=" · ".join(str(part) for part in detail),
                url=reverse("engagement:push-rule-detail", args=[dispatch.rule_id]),
            )
        )
    return entries


CONVERSION_DAYS = 90


def push_rule_results(*, tenant: Tenant, rule_ids: list[int] | None = None) -> dict[int, dict]:
    """Per rule, pushed vs held-out control of the same audience: counts, opens, clicks and
    conversion (a contract signed within 90 days of the decision, not cancelled), in one query.

    ``lift_points`` is the pushed conversion rate minus the control rate, in percentage points.
    """
    converted = Exists(
        Project.objects.filter(
            customer_id=OuterRef("customer_id"),
            signed_on__gte=OuterRef("decided_day"),
            signed_on__lte=OuterRef("convert_until"),
            cancelled_at__isnull=True,
        )
    )
    pushed = Q(held_out=False, status=DispatchStatus.SENT)
    control = Q(held_out=True)
    rows = (
        PushDispatch.objects.filter(tenant=tenant)
        .filter(**({"rule_id__in": rule_ids} if rule_ids is not None else {}))
        .annotate(
            decided_day=TruncDate("decided_at"),
            convert_until=ExpressionWrapper(
                TruncDate("decided_at") + datetime.timedelta(days=CONVERSION_DAYS), output_field=DateField()
            ),
        )
        .annotate(converted=converted)
        .values("rule_id")
        .annotate(
            pushed=Count("id", filter=pushed),
            control=Count("id", filter=control),
            pending=Count("id", filter=Q(status=DispatchStatus.PENDING)),
            skipped=Count("id", filter=Q(status=DispatchStatus.SKIPPED)),
            opened=Count("id", filter=pushed & Q(opened_at__isnull=False)),
            clicked=Count("id", filter=pushed & Q(clicked_at__isnull=False)),
            pushed_converted=Count("id", filter=pushed & Q(converted=True)),
            control_converted=Count("id", filter=control & Q(converted=True)),
        )
    )
    by_rule = {row.pop("rule_id"): row for row in rows}
    ids = rule_ids if rule_ids is not None else list(by_rule)
    results = {}
    for rule_id in ids:
        row = by_rule.get(rule_id) or dict.fromkeys(
            (
                "pushed",
                "control",
                "pending",
                "skipped",
                "opened",
                "clicked",
                "pushed_converted",
                "control_converted",
            ),
            0,
        )
        pushed_rate = _rate(row["pushed_converted"], row["pushed"])
        control_rate = _rate(row["control_converted"], row["control"])
        row.update(
            pushed_rate=pushed_rate,
            control_rate=control_rate,
            open_rate=_rate(row["opened"], row["pushed"]),
            click_rate=_rate(row["clicked"], row["pushed"]),
            lift_points=(
                round((pushed_rate - control_rate) * 100, 1)
                if pushed_rate is not None and control_rate is not None
                else None
            ),
        )
        results[rule_id] = row
    return results


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def push_rules_with_results(*, tenant: Tenant) -> list[tuple[PushRule, dict]]:
    rules = list(
        PushRule.objects.filter(tenant=tenant).select_related("item", "segment").order_by("-id")[:200]
    )
    results = push_rule_results(tenant=tenant, rule_ids=[rule.pk for rule in rules])
    return [(rule, results[rule.pk]) for rule in rules]


def push_dispatches(*, tenant: Tenant, rule: PushRule, limit: int = 100) -> list[PushDispatch]:
    return list(
        PushDispatch.objects.filter(tenant=tenant, rule=rule)
        .select_related("customer")
        .order_by("-decided_at", "-id")[:limit]
    )


def content_items(*, tenant: Tenant) -> list[ContentItem]:
    return list(ContentItem.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:500])


def campaign_figures(*, tenant: Tenant, campaign_ids: list[int] | None = None) -> dict[int, dict]:
    """Per campaign: sign-ups (leads), responded, measured, checked in, signed customers and their
    contract value, cost per signed customer and ROI. Amounts in fen. Feeds the channel analytics.

    A contract counts for a campaign when its customer signed up before signing it, or when an
    offer of the campaign was redeemed against it (directly, or against its accepted quotation:
    the redemption is linked at signing). Cancelled contracts never count; a contract reached both
    ways counts once (distinct by project), a customer with two contracts is one signed customer.
    """
    signups = CampaignSignup.objects.filter(tenant=tenant)
    redemptions = Redemption.objects.filter(tenant=tenant, offer__campaign__isnull=False)
    if campaign_ids is not None:
        signups = signups.filter(campaign_id__in=campaign_ids)
        redemptions = redemptions.filter(offer__campaign_id__in=campaign_ids)
    rows = (
        signups.values("campaign_id")
        .annotate(
            leads=Count("id", distinct=True),
            responded=Count("id", distinct=True, filter=Q(lead__first_responded_at__isnull=False)),
            measured=Count("id", distinct=True, filter=Q(customer__measured_at__isnull=False)),
            checked_in=Count("id", distinct=True, filter=Q(checked_in_at__isnull=False)),
        )
        .order_by()
    )
    by_campaign = {row["campaign_id"]: row for row in rows}
    signed_via_signup = signups.filter(
        customer__projects__signed_on__gte=TruncDate("signed_up_at"),
        customer__projects__cancelled_at__isnull=True,
    ).values_list(
        "campaign_id", "customer__projects__id", "customer_id", "customer__projects__contract_amount_fen"
    )
    signed_via_offer = redemptions.filter(
        project__signed_on__isnull=False, project__cancelled_at__isnull=True
    ).values_list("offer__campaign_id", "project_id", "project__customer_id", "project__contract_amount_fen")
    contracts: dict[int, dict[int, tuple[int, int]]] = {}
    for campaign_id, project_id, customer_id, amount in [*signed_via_signup, *signed_via_offer]:
        contracts.setdefault(campaign_id, {})[project_id] = (customer_id, amount or 0)
    campaigns = Campaign.objects.filter(tenant=tenant)
    if campaign_ids is not None:
        campaigns = campaigns.filter(pk__in=campaign_ids)
    figures = {}
    for campaign_id, spend in campaigns.values_list("id", "spend_fen"):
        row = by_campaign.get(campaign_id, {})
        signed_projects = contracts.get(campaign_id, {})
        signed_count = len({customer_id for customer_id, _amount in signed_projects.values()})
        value_fen = sum(amount for _customer, amount in signed_projects.values())
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


def offer_redemptions(*, tenant: Tenant, offer: Offer, limit: int = 200) -> list[Redemption]:
    """An offer's redemptions with their target (quotation version or contract), newest first."""
    return list(
        Redemption.objects.filter(tenant=tenant, offer=offer)
        .select_related("customer", "quotation", "project", "redeemed_by")
        .order_by("-redeemed_at", "-id")[:limit]
    )


def offers_for_quotation(*, tenant: Tenant, customer_id: int, today: datetime.date) -> list[Offer]:
    """Offers the customer can redeem now: of the campaigns they signed up for, valid today, not yet
    redeemed by them, not exhausted (the service re-checks all of it under a lock)."""
    campaigns = CampaignSignup.objects.filter(tenant=tenant, customer_id=customer_id).values("campaign_id")
    redeemed = Redemption.objects.filter(tenant=tenant, customer_id=customer_id).values("offer_id")
    offers = (
        Offer.objects.filter(
            tenant=tenant, campaign_id__in=campaigns, valid_from__lte=today, valid_until__gte=today
        )
        .exclude(pk__in=redeemed)
        .annotate(redeemed_count=Count("redemptions"))
        .select_related("campaign", "package")
        .order_by("valid_until", "id")
    )
    return [offer for offer in offers if offer.quantity is None or offer.redeemed_count < offer.quantity]
