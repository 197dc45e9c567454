"""What engagement adds to the customer page, timeline and PIPL export (through crm.extensions)."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from crm.extensions import Panel, TimelineEntry
from crm.permissions import has_permission
from engagement import selectors
from engagement.forms import ConsentForm
from engagement.models import ConsentEvent


def consent_panel(*, request, tenant, customer_id: int) -> Panel | None:
    user = getattr(request, "user", None)
    if not has_permission(user, "engagement.view"):
        return None
    html = render_to_string(
        "engagement/_consent_panel.html",
        {
            "customer_id": customer_id,
            "channels": selectors.consent_overview(tenant=tenant, customer_id=customer_id),
            "history": selectors.consent_history(tenant=tenant, customer_id=customer_id)[:10],
            "form": ConsentForm() if has_permission(user, "engagement.consent") else None,
            "score": selectors.lead_score_for_customer(tenant=tenant, customer_id=customer_id),
        },
        request=request,
    )
    return Panel(title=_("营销授权与评分"), html=html, order=60)


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


def customer_timeline(*, tenant, customer_id: int) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            occurred_at=event.occurred_at,
            kind="consent",
            title=_("营销授权：%(channel)s %(state)s")
            % {"channel": event.get_channel_display(), "state": event.get_state_display()},
            detail=" · ".join(part for part in (event.get_source_display(), event.reason) if part),
            actor=event.actor_name,
        )
        for event in ConsentEvent.objects.filter(customer_id=customer_id)[:100]
    ]
    entries.extend(selectors.push_timeline(tenant=tenant, customer_id=customer_id))
    return entries


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
