"""Projects' widget on the managers' dashboard: where projects stand and what is stuck."""

from __future__ import annotations

from django.db.models import Count
from django.template.loader import render_to_string

from crm.extensions import Panel
from crm.permissions import has_permission
from projects import selectors
from projects.models import ChangeOrder, ChangeOrderStatus, Project, Rectification


def dashboard_widget(*, request, tenant) -> Panel | None:
    if not has_permission(getattr(request, "user", None), "projects.view"):
        return None
    active = Project.objects.filter(cancelled_at__isnull=True)
    counts = dict(active.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    names = selectors.stage_names(tenant=tenant)
    context = {
        "stages": [{"name": names.get(key, key), "count": counts[key]} for key in names if counts.get(key)],
        "active": sum(counts.values()),
        "overdue": selectors.overdue_projects(tenant=tenant).count(),
        "open_rectifications": Rectification.objects.filter(status=Rectification.Status.OPEN).count(),
        "pending_change_orders": ChangeOrder.objects.filter(status=ChangeOrderStatus.SENT).count(),
    }
    html = render_to_string("projects/_dashboard.html", context, request=request)
    return Panel(title="装修项目", html=html, order=20)
