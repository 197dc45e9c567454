"""Customers' widget on the managers' dashboard: lead SLA health and response times."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.extensions import Panel
from crm.permissions import has_permission
from customers import selectors
from customers.models import FollowUp, Lead, LeadStatus


def dashboard_widget(*, request, tenant) -> Panel | None:
    if not has_permission(getattr(request, "user", None), "customers.view_stats"):
        return None
    now = timezone.now()
    stats = selectors.lead_response_stats(tenant=tenant)
    channels = stats["by_channel"]
    total = sum(row["count"] for row in channels)
    breached = sum(row["breached"] for row in channels)
    waiting = Lead.objects.filter(status=LeadStatus.OPEN, first_responded_at__isnull=True)
    context = {
        "total": total,
        "breach_rate": breached / total if total else None,
        "waiting": waiting.count(),
        "overdue_now": waiting.filter(first_response_due_at__lt=now).count(),
        "channels": sorted(channels, key=lambda row: row["count"], reverse=True)[:6],
        "users": stats["by_user"],
    }
    html = render_to_string("customers/_dashboard.html", context, request=request)
    return Panel(title=_("线索与首次响应（近 30 天）"), html=html, order=10)


def home_widget(*, request, tenant) -> Panel | None:
    """我的待办 for sales: my leads waiting for a first response and my follow-ups due today."""
    user = getattr(request, "user", None)
    if not has_permission(user, "customers.follow_up"):
        return None
    now = timezone.now()
    end_of_today = timezone.localtime(now).replace(hour=23, minute=59, second=59)
    leads = list(selectors.leads_for_inbox(tenant=tenant, user=user, mine=True)[:8])
    due_follow_ups = list(
        FollowUp.objects.filter(author=user, superseded_at__isnull=True, next_follow_up_at__lte=end_of_today)
        .select_related("customer")
        .order_by("next_follow_up_at")[:8]
    )
    if not leads and not due_follow_ups:
        return None
    html = render_to_string(
        "customers/_home.html", {"leads": leads, "follow_ups": due_follow_ups, "now": now}, request=request
    )
    return Panel(title=_("我的待办：线索与跟进"), html=html, order=10)
