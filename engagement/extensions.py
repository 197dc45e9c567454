"""What engagement adds to the customer page, timeline and PIPL export (through crm.extensions)."""

from __future__ import annotations

from types import SimpleNamespace

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.extensions import CustomerSection, Panel, TimelineEntry, render_panel
from crm.page_data import PageQuery, at, label, row, rows, when
from crm.permissions import has_permission
from engagement import selectors
from engagement.forms import ConsentForm
from engagement.models import (
    ConsentChannel,
    ConsentEvent,
    ConsentSource,
    ConsentState,
    DispatchStatus,
    ScoreMethod,
    SkipReason,
)


def quotation_offers_section(*, request, quotation) -> Panel | None:
    """Quotation page: the customer's redeemed offers on it and, on a draft, the offers of their
    campaign sign-ups that can still be redeemed against it."""
    from django.utils import timezone

    from engagement.models import Redemption
    from quotes.services.offers import quotation_offer_blocker

    user = getattr(request, "user", None)
    if not has_permission(user, "engagement.view"):
        return None
    tenant = quotation.tenant
    redeemed = list(
        Redemption.objects.filter(tenant=tenant, quotation__number=quotation.number)
        .select_related("offer", "quotation")
        .order_by("redeemed_at", "id")
    )
    blocker = quotation_offer_blocker(quotation)
    can_redeem = (
        blocker is None and has_permission(user, "engagement.consent") and has_permission(user, "quotes.edit")
    )
    offers = (
        selectors.offers_for_quotation(
            tenant=tenant, customer_id=quotation.customer_id, today=timezone.localdate()
        )
        if can_redeem
        else []
    )
    if not redeemed and not offers:
        return None
    html = render_to_string(
        "engagement/_quotation_offers.html",
        {"quotation": quotation, "redeemed": redeemed, "offers": offers, "can_redeem": can_redeem},
        request=request,
    )
    return Panel(title=_("活动优惠"), html=html, order=50)


def personal_data(*, tenant, customer_id: int) -> dict:
    """PIPL export: the whole consent history (time, channel, state, source, version, reason)."""
    return {
        "consent_history": [
            {
                "occurred_at": event.occurred_at.isoformat(),
                "channel": event.channel,
                "state": event.state,
                "source": event.source,
                "version": event.version,
                "reason": event.reason,
                "actor": event.actor_name,
            }
            for event in ConsentEvent.objects.filter(customer_id=customer_id).order_by("occurred_at", "id")
        ]
    }


def merge_customer_rows(*, tenant, source, target, actor, merge) -> dict:  # noqa: ARG001 - handler signature
    """Customer merge (crm.extensions): consents, their history, scores, sign-ups, redemptions and
    push records follow the survivor.

    A row the survivor already has (same channel / campaign / offer / rule and period) stays with
    the archived duplicate; for a consent on the same channel the more recent decision wins (a
    later withdrawal is never lost). Consent history is append-only, so it is copied, not moved.
    """
    from django.db.models import Exists, OuterRef, Q

    from customers.services.merge import move_customer_rows, moved_key
    from engagement.models import (
        CampaignSignup,
        Consent,
        LeadScore,
        PushDispatch,
        Redemption,
    )

    overridden = []
    for theirs in Consent.objects.filter(customer=source):
        ours = Consent.objects.filter(customer=target, channel=theirs.channel).first()
        if ours is not None and theirs.changed_at > ours.changed_at:
            overridden.append(
                {
                    "id": ours.pk,
                    "state": ours.state,
                    "source": ours.source,
                    "version": ours.version,
                    "reason": ours.reason,
                    "changed_at": ours.changed_at.isoformat(),
                    "changed_by": ours.changed_by_id,
                }
            )
            for field in ("state", "source", "version", "reason", "changed_at", "changed_by_id"):
                setattr(ours, field, getattr(theirs, field))
            ours.save()
    moved = {
        moved_key(Consent, "customer"): move_customer_rows(
            Consent,
            "customer",
            source=source,
            target=target,
            exclude=Q(channel__in=Consent.objects.filter(customer=target).values("channel")),
        ),
        moved_key(LeadScore, "customer"): move_customer_rows(
            LeadScore, "customer", source=source, target=target
        ),
        moved_key(CampaignSignup, "customer"): move_customer_rows(
            CampaignSignup,
            "customer",
            source=source,
            target=target,
            exclude=Q(campaign__in=CampaignSignup.objects.filter(customer=target).values("campaign")),
        ),
        moved_key(Redemption, "customer"): move_customer_rows(
            Redemption,
            "customer",
            source=source,
            target=target,
            exclude=Q(offer__in=Redemption.objects.filter(customer=target).values("offer")),
        ),
        moved_key(PushDispatch, "customer"): move_customer_rows(
            PushDispatch,
            "customer",
            source=source,
            target=target,
            exclude=Q(
                Exists(
                    PushDispatch.objects.filter(
                        customer=target, rule=OuterRef("rule"), period_key=OuterRef("period_key")
                    )
                )
            ),
        ),
    }
    history = list(ConsentEvent.objects.filter(customer=source).order_by("occurred_at", "id"))
    copies = ConsentEvent.objects.bulk_create(
        [
            ConsentEvent(
                tenant=tenant,
                customer=target,
                channel=event.channel,
                state=event.state,
                source=event.source,
                version=event.version,
                reason=event.reason,
                occurred_at=event.occurred_at,
                actor_name=event.actor_name,
            )
            for event in history
        ]
    )
    return {
        "moved": moved,
        "consent_overrides": overridden,
        "copied_consent_events": [event.pk for event in copies],
    }


def unmerge_customer_rows(*, tenant, source, target, actor, merge, record) -> None:  # noqa: ARG001
    """Undo of a merge: the survivor's overridden consents return, copied history is removed."""
    import datetime

    from engagement.models import Consent

    for previous in record.get("consent_overrides") or []:
        Consent.objects.filter(pk=previous["id"], customer=target).update(
            state=previous["state"],
            source=previous["source"],
            version=previous["version"],
            reason=previous["reason"],
            changed_at=datetime.datetime.fromisoformat(previous["changed_at"]),
            changed_by_id=previous["changed_by"],
        )
    ConsentEvent.objects.filter(pk__in=record.get("copied_consent_events") or [], customer=target).delete()


# --------------------------------------------------------------------------- customer page section
# Consent events and pushes on the customer's timeline, and the consent / lead score panel, read
# in the customer page's single statement (crm.extensions.customer_page).

EVENTS_SQL = """
SELECT e.occurred_at, e.channel, e.state, e.source, e.reason, e.actor_name FROM engagement_consentevent e
WHERE e.tenant_id = %s AND e.customer_id = %s ORDER BY e.occurred_at DESC, e.id DESC LIMIT %s"""
PUSHES_SQL = """
SELECT d.rule_id, d.decided_at, d.sent_at, d.status, d.skip_reason, d.opened_at, d.open_count,
       d.clicked_at, d.click_count, r.channel, i.title
FROM engagement_pushdispatch d JOIN engagement_pushrule r ON r.id = d.rule_id
JOIN engagement_contentitem i ON i.id = r.item_id
WHERE d.tenant_id = %s AND d.customer_id = %s ORDER BY d.decided_at DESC, d.id DESC LIMIT 100"""
CONSENTS_SQL = """
SELECT c.channel, c.state, c.source, c.version, c.changed_at FROM engagement_consent c
WHERE c.tenant_id = %s AND c.customer_id = %s"""
SCORE_SQL = """
SELECT s.score, s.method, s.factors FROM engagement_leadscore s JOIN customers_lead l ON l.id = s.lead_id
WHERE s.tenant_id = %s AND s.customer_id = %s ORDER BY l.received_at DESC"""


def _timeline_queries(*, tenant, customer_id: int) -> dict[str, PageQuery]:
    return {
        "events": rows(EVENTS_SQL, [tenant.pk, customer_id, 100]),
        "pushes": rows(PUSHES_SQL, [tenant.pk, customer_id]),
    }


def _timeline(*, data: dict) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            occurred_at=at(event["occurred_at"]),
            kind="consent",
            title=_("营销授权：%(channel)s %(state)s")
            % {
                "channel": label(ConsentChannel, event["channel"]),
                "state": label(ConsentState, event["state"]),
            },
            detail=" · ".join(
                part for part in (label(ConsentSource, event["source"]), event["reason"]) if part
            ),
            actor=event["actor_name"],
        )
        for event in data["events"]
    ]
    for dispatch in data["pushes"]:  # as selectors.push_timeline
        detail = [label(ConsentChannel, dispatch["channel"]), label(DispatchStatus, dispatch["status"])]
        if dispatch["skip_reason"]:
            detail.append(label(SkipReason, dispatch["skip_reason"]))
        if dispatch["clicked_at"]:
            detail.append(_("已点击 %(n)s 次") % {"n": dispatch["click_count"]})
        elif dispatch["opened_at"]:
            detail.append(_("已打开 %(n)s 次") % {"n": dispatch["open_count"]})
        entries.append(
            TimelineEntry(
                occurred_at=at(dispatch["sent_at"] or dispatch["decided_at"]),
                kind="push",
                title=_("内容推送：%(title)s") % {"title": dispatch["title"]},
                detail=" · ".join(str(part) for part in detail),
                url=reverse("engagement:push-rule-detail", args=[dispatch["rule_id"]]),
            )
        )
    return entries


def _panel_queries(*, request, tenant, customer_id: int, checked: bool) -> dict[str, PageQuery] | None:  # noqa: ARG001
    if not has_permission(getattr(request, "user", None), "engagement.view"):
        return None
    return {  # the history: the timeline's events (same order), the ten newest
        "consents": rows(CONSENTS_SQL, [tenant.pk, customer_id]),
        "score": row(SCORE_SQL, [tenant.pk, customer_id]),
    }


def _consent(values: dict) -> SimpleNamespace:
    return SimpleNamespace(
        state_label=label(ConsentState, values["state"]),
        source_label=label(ConsentSource, values["source"]),
        changed_at=when(values["changed_at"]),
        version=values["version"],
    )


def _panel(*, request, tenant, customer_id: int, data: dict) -> Panel | None:  # noqa: ARG001
    """Consent per channel (``selectors.consent_overview``), the last ten events, the lead score."""
    user = getattr(request, "user", None)
    current = {consent["channel"]: _consent(consent) for consent in data["consents"]}
    score = data["score"]
    html = render_panel(
        "engagement/_consent_panel.html",
        {
            "customer_id": customer_id,
            "channels": [
                {"channel": value, "label": channel_label, "consent": current.get(value)}
                for value, channel_label in ConsentChannel.choices
            ],
            "history": [
                SimpleNamespace(
                    occurred_at=at(event["occurred_at"]),
                    channel_label=label(ConsentChannel, event["channel"]),
                    state_label=label(ConsentState, event["state"]),
                    source_label=label(ConsentSource, event["source"]),
                    reason=event["reason"],
                    actor_name=event["actor_name"],
                )
                for event in data["events"][:10]
            ],
            "form": ConsentForm() if has_permission(user, "engagement.consent") else None,
            "score": {
                "percent": f"{score['score'] * 100:.0f}%",
                "method_label": label(ScoreMethod, score["method"]),
                "factors": score["factors"],
            }
            if score
            else None,
        },
        request=request,
    )
    return Panel(title=_("营销授权与评分"), html=html, order=60)


CUSTOMER_SECTION = CustomerSection(
    name="engagement",
    timeline_queries=_timeline_queries,
    timeline=_timeline,
    panel_queries=_panel_queries,
    panel=_panel,
)
