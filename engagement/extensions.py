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
