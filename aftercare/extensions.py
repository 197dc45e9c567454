"""What aftercare adds to the customer page (through crm.extensions, no imports backwards)."""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.models import MaintenancePlan, ServiceTicket, Survey, Visit, VisitStatus
from crm.extensions import Panel, TimelineEntry
from crm.permissions import has_permission


def _at_midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


def customer_timeline(*, tenant, customer_id: int) -> list[TimelineEntry]:
    entries = []
    for visit in Visit.objects.filter(customer_id=customer_id, status=VisitStatus.COMPLETED).select_related(
        "plan__kind", "technician"
    ):
        entries.append(
            TimelineEntry(
                occurred_at=visit.completed_at,
                kind="aftercare_visit",
                title=_("%(kind)s完成") % {"kind": visit.plan.kind.name},
                detail=visit.findings[:200],
                url=reverse("aftercare:plan-detail", args=[visit.plan_id]),
                actor=str(visit.technician or ""),
            )
        )
    for ticket in ServiceTicket.objects.filter(customer_id=customer_id).select_related("created_by"):
        entries.append(
            TimelineEntry(
                occurred_at=ticket.created_at,
                kind="ticket",
                title=_("售后工单 #%(pk)s（%(category)s）· %(status)s")
                % {
                    "pk": ticket.pk,
                    "category": ticket.get_category_display(),
                    "status": ticket.get_status_display(),
                },
                detail=ticket.description[:200],
                url=reverse("aftercare:ticket-detail", args=[ticket.pk]),
                actor=str(ticket.created_by or ""),
            )
        )
    for survey in Survey.objects.filter(customer_id=customer_id).exclude(answered_at=None):
        entries.append(
            TimelineEntry(
                occurred_at=survey.answered_at,
                kind="survey",
                title=_("%(kind)s：%(score)s 分")
                % {"kind": survey.get_kind_display(), "score": survey.score},
                detail=survey.comment[:200],
            )
        )
    return entries


def customer_panel(*, request, tenant, customer_id: int) -> Panel | None:
    if not has_permission(getattr(request, "user", None), "aftercare.view"):
        return None
    plans = list(
        MaintenancePlan.objects.filter(customer_id=customer_id).select_related(
            "kind", "project", "assigned_to"
        )
    )
    tickets = list(ServiceTicket.objects.filter(customer_id=customer_id).select_related("project")[:10])
    if not plans and not tickets:
        return None
    html = render_to_string(
        "aftercare/_customer_panel.html",
        {"plans": plans, "tickets": tickets, "today": timezone.localdate()},
        request=request,
    )
    return Panel(title=_("售后服务"), html=html, order=50)


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
