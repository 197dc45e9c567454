"""Customers' widget on the managers' dashboard: lead SLA health and response times."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from crm.extensions import Panel
from crm.permissions import has_permission
from customers import selectors
from customers.models import Lead, LeadStatus


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
    return Panel(title="线索与首次响应（近 30 天）", html=html, order=10)
