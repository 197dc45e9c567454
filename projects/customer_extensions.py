"""What projects adds to the customer page (registered in ProjectsConfig.ready via crm.extensions)."""

from __future__ import annotations

from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse

from crm.extensions import Panel, TimelineEntry
from projects import selectors
from projects.models import Project, StageHistory


def timeline(*, tenant, customer_id: int) -> list[TimelineEntry]:
    names = selectors.stage_names(tenant=tenant)
    rows = StageHistory.objects.filter(project__customer_id=customer_id).select_related(
        "project", "changed_by"
    )
    entries = []
    for row in rows[:100]:
        title = f"{row.project.name}：进入「{names.get(row.to_stage, row.to_stage)}」"
        if row.direction == "back":
            title = f"{row.project.name}：退回「{names.get(row.to_stage, row.to_stage)}」"
        entries.append(
            TimelineEntry(
                occurred_at=row.changed_at,
                kind="project_stage",
                title=title,
                detail=row.reason,
                url=reverse("projects:detail", args=[row.project_id]),
                actor=str(row.changed_by) if row.changed_by else "",
            )
        )
    return entries


def panel(*, request, tenant, customer_id: int) -> Panel | None:
    projects = list(
        Project.objects.filter(customer_id=customer_id).select_related("project_manager", "designer")
    )
    if not projects:
        return None
    names = selectors.stage_names(tenant=tenant)
    for project in projects:
        project.stage_name = names[project.stage]
    html = render_to_string(
        "projects/_customer_panel.html", {"projects": projects, "customer_id": customer_id}, request=request
    )
    return Panel(title="装修项目", html=html, order=20)


def customers_worked_on(*, user) -> Q:
    """Visibility provider (crm.extensions): customers of the projects ``user`` is on."""
    staff = Q(designer_id=user.pk) | Q(project_manager_id=user.pk) | Q(supervisor_id=user.pk)
    staff |= Q(service_owner_id=user.pk)
    return Q(pk__in=Project.objects.filter(staff).values("customer_id"))
