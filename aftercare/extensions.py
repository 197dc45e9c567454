"""What aftercare adds to the customer page (through crm.extensions, no imports backwards)."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.models import (
    MaintenancePlan,
    PlanStatus,
    ServiceTicket,
    Survey,
    SurveyKind,
    TicketCategory,
    TicketStatus,
    Visit,
    VisitStatus,
)
from crm.extensions import CustomerSection, Panel, TimelineEntry, render_panel
from crm.page_data import PageQuery, at, day, label, person, rows
from crm.permissions import has_permission


def _at_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


# --------------------------------------------------------------------------- customer page section
# Completed visits, tickets and answered surveys on the customer's timeline, and the plans and
# tickets panel, read in the customer page's single statement (crm.extensions.customer_page).

VISITS_SQL = f"""
SELECT v.completed_at, v.plan_id, v.findings, k.name AS kind, {person("t")} AS technician
FROM aftercare_visit v JOIN aftercare_maintenanceplan p ON p.id = v.plan_id
JOIN aftercare_plankind k ON k.id = p.kind_id LEFT JOIN crm_user t ON t.id = v.technician_id
WHERE v.tenant_id = %s AND v.customer_id = %s AND v.status = %s
ORDER BY v.scheduled_at DESC, v.id DESC"""
TICKETS_SQL = f"""
SELECT t.id, t.created_at, t.category, t.status, t.under_warranty, t.description,
       {person("u")} AS created_by
FROM aftercare_serviceticket t LEFT JOIN crm_user u ON u.id = t.created_by_id
WHERE t.tenant_id = %s AND t.customer_id = %s ORDER BY t.resolution_due_at, t.id"""
SURVEYS_SQL = """
SELECT s.answered_at, s.kind, s.score, s.comment FROM aftercare_survey s
WHERE s.tenant_id = %s AND s.customer_id = %s AND s.answered_at IS NOT NULL
ORDER BY s.created_at DESC, s.id DESC"""
PLANS_SQL = f"""
SELECT m.id, m.due_on, m.status, k.name AS kind, p.name AS project, {person("u")} AS assigned_to
FROM aftercare_maintenanceplan m JOIN aftercare_plankind k ON k.id = m.kind_id
JOIN projects_project p ON p.id = m.project_id LEFT JOIN crm_user u ON u.id = m.assigned_to_id
WHERE m.tenant_id = %s AND m.customer_id = %s ORDER BY m.due_on, m.id"""


def _timeline_queries(*, tenant, customer_id: int) -> dict[str, PageQuery]:
    return {
        "visits": rows(VISITS_SQL, [tenant.pk, customer_id, VisitStatus.COMPLETED]),
        "tickets": rows(TICKETS_SQL, [tenant.pk, customer_id]),
        "surveys": rows(SURVEYS_SQL, [tenant.pk, customer_id]),
    }


def _timeline(*, data: dict) -> list[TimelineEntry]:
    entries = []
    for visit in data["visits"]:
        entries.append(
            TimelineEntry(
                occurred_at=at(visit["completed_at"]),
                kind="aftercare_visit",
                title=_("%(kind)s完成") % {"kind": visit["kind"]},
                detail=visit["findings"][:200],
                url=reverse("aftercare:plan-detail", args=[visit["plan_id"]]),
                actor=visit["technician"] or "",
            )
        )
    for ticket in data["tickets"]:
        entries.append(
            TimelineEntry(
                occurred_at=at(ticket["created_at"]),
                kind="ticket",
                title=_("售后工单 #%(pk)s（%(category)s）· %(status)s")
                % {
                    "pk": ticket["id"],
                    "category": label(TicketCategory, ticket["category"]),
                    "status": label(TicketStatus, ticket["status"]),
                },
                detail=ticket["description"][:200],
                url=reverse("aftercare:ticket-detail", args=[ticket["id"]]),
                actor=ticket["created_by"] or "",
            )
        )
    for survey in data["surveys"]:
        entries.append(
            TimelineEntry(
                occurred_at=at(survey["answered_at"]),
                kind="survey",
                title=_("%(kind)s：%(score)s 分")
                % {"kind": label(SurveyKind, survey["kind"]), "score": survey["score"]},
                detail=survey["comment"][:200],
            )
        )
    return entries


def _panel_queries(*, request, tenant, customer_id: int, checked: bool) -> dict[str, PageQuery] | None:  # noqa: ARG001
    if not has_permission(getattr(request, "user", None), "aftercare.view"):
        return None
    return {"plans": rows(PLANS_SQL, [tenant.pk, customer_id])}  # tickets: the timeline's, first ten


def _panel(*, request, tenant, customer_id: int, data: dict) -> Panel | None:  # noqa: ARG001
    if not data["plans"] and not data["tickets"]:
        return None
    plans = [
        SimpleNamespace(
            pk=plan["id"],
            kind_name=plan["kind"],
            due_on=day(plan["due_on"]),
            is_open=plan["status"] == PlanStatus.SCHEDULED,
            status_label=label(PlanStatus, plan["status"]),
            project_name=plan["project"],
            assigned_to=plan["assigned_to"] or "",
        )
        for plan in data["plans"]
    ]
    tickets = [
        SimpleNamespace(
            pk=ticket["id"],
            category_label=label(TicketCategory, ticket["category"]),
            status_label=label(TicketStatus, ticket["status"]),
            under_warranty=ticket["under_warranty"],
        )
        for ticket in data["tickets"][:10]
    ]
    html = render_panel(
        "aftercare/_customer_panel.html",
        {"plans": plans, "tickets": tickets, "today": timezone.localdate()},
        request=request,
    )
    return Panel(title=_("售后服务"), html=html, order=50)


CUSTOMER_SECTION = CustomerSection(
    name="aftercare",
    timeline_queries=_timeline_queries,
    timeline=_timeline,
    panel_queries=_panel_queries,
    panel=_panel,
)


def dashboard_widget(*, request, tenant) -> Panel | None:
    """Managers' dashboard: visits due/overdue, open tickets past SLA, CSAT and NPS."""
    if not has_permission(getattr(request, "user", None), "aftercare.view"):
        return None
    from aftercare import selectors
    from aftercare.services import dates

    today = dates.tenant_today(tenant)
    open_plans = MaintenancePlan.objects.filter(status="scheduled")
    now = timezone.now()
    active = selectors.tickets_active(tenant=tenant)
    context = {
        "overdue": open_plans.filter(due_on__lt=today).count(),
        "due_30": open_plans.filter(
            due_on__gte=today, due_on__lte=today + datetime.timedelta(days=30)
        ).count(),
        "tickets_open": active.count(),
        "tickets_breached": active.filter(
            Q(resolution_due_at__lt=now) | Q(first_responded_at=None, first_response_due_at__lt=now)
        ).count(),
        "results": selectors.survey_results(tenant=tenant),
    }
    return Panel(
        title=_("售后"),
        html=render_to_string("aftercare/_dashboard.html", context, request=request),
        order=40,
    )


def customers_worked_on(*, user) -> Q:
    """Visibility provider (crm.extensions): customers of the plans and tickets ``user`` is on."""
    plans = MaintenancePlan.objects.filter(assigned_to_id=user.pk).values("customer_id")
    tickets = ServiceTicket.objects.filter(assigned_to_id=user.pk).values("customer_id")
    return Q(pk__in=plans) | Q(pk__in=tickets)


def merge_customer_rows(*, tenant, source, target, actor, merge) -> dict:  # noqa: ARG001 - handler signature
    """Customer merge (crm.extensions): plans, visits, tickets and surveys follow the survivor."""
    from customers.services.merge import move_customer_rows, moved_key

    return {
        "moved": {
            moved_key(model, "customer"): move_customer_rows(model, "customer", source=source, target=target)
            for model in (MaintenancePlan, Visit, ServiceTicket, Survey)
        }
    }
