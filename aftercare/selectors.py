"""Aftercare reads shared by pages, API, the customer page and dashboards."""

from __future__ import annotations

import datetime

from django.db.models import Avg, Case, Count, F, Q, QuerySet, Value, When

from aftercare.models import (
    MaintenancePlan,
    PlanStatus,
    ServiceTicket,
    Survey,
    SurveyKind,
    SurveyTrigger,
    TicketStatus,
    Visit,
)
from crm.models import Tenant, User


def plans_for_list(*, tenant: Tenant) -> QuerySet[MaintenancePlan]:
    return MaintenancePlan.objects.select_related("kind", "project", "customer", "assigned_to").order_by(
        "due_on", "id"
    )


def plans_upcoming_and_overdue(
    *, tenant: Tenant, today: datetime.date, assignee: User | None = None, horizon_days: int = 90
) -> QuerySet[MaintenancePlan]:
    """Open plans due up to ``horizon_days`` ahead (overdue ones first, by due date)."""
    plans = plans_for_list(tenant=tenant).filter(
        status=PlanStatus.SCHEDULED, due_on__lte=today + datetime.timedelta(days=horizon_days)
    )
    if assignee is not None:
        plans = plans.filter(assigned_to=assignee)
    return plans


def plan_detail(*, tenant: Tenant, pk: int) -> MaintenancePlan:
    return plans_for_list(tenant=tenant).get(pk=pk)


def visits_for_list(*, tenant: Tenant) -> QuerySet[Visit]:
    return (
        Visit.objects.select_related("plan__kind", "project", "customer", "technician")
        .prefetch_related("photos")
        .order_by("-scheduled_at", "-id")
    )


def tickets_by_sla(*, tenant: Tenant) -> QuerySet[ServiceTicket]:
    """The queue: unresolved tickets first, each by its next due time (first response until answered,
    then resolution), so the ticket closest to (or furthest past) its SLA is on top."""
    return (
        ServiceTicket.objects.select_related("project", "customer", "assigned_to")
        .annotate(
            is_done=Case(When(resolved_at__isnull=True, then=Value(0)), default=Value(1)),
            next_due_at=Case(
                When(first_responded_at__isnull=True, then=F("first_response_due_at")),
                default=F("resolution_due_at"),
            ),
        )
        .order_by("is_done", "next_due_at", "id")
    )


def tickets_active(*, tenant: Tenant) -> QuerySet[ServiceTicket]:
    return tickets_by_sla(tenant=tenant).exclude(status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED])


def surveys_for_list(*, tenant: Tenant) -> QuerySet[Survey]:
    return Survey.objects.select_related("customer", "project").order_by("-created_at", "-id")


def survey_results(*, tenant: Tenant) -> dict:
    """CSAT average and NPS (% promoters − % detractors) over answered surveys, per trigger too."""
    answered = Survey.objects.exclude(answered_at=None)
    csat = answered.filter(kind=SurveyKind.CSAT).aggregate(avg=Avg("score"), n=Count("id"))
    nps = answered.filter(kind=SurveyKind.NPS).aggregate(
        n=Count("id"),
        promoters=Count("id", filter=Q(score__gte=9)),
        detractors=Count("id", filter=Q(score__lte=6)),
    )
    nps_score = round(100 * (nps["promoters"] - nps["detractors"]) / nps["n"]) if nps["n"] else None
    by_trigger = list(
        answered.values("kind", "trigger")
        .annotate(avg=Avg("score"), n=Count("id"))
        .order_by("kind", "trigger")
    )
    labels = dict(SurveyTrigger.choices)
    for row in by_trigger:
        row["trigger_label"] = labels.get(row["trigger"], row["trigger"])
    sent = Survey.objects.count()
    return {
        "csat_avg": round(csat["avg"], 2) if csat["avg"] is not None else None,
        "csat_count": csat["n"],
        "nps": nps_score,
        "nps_count": nps["n"],
        "promoters": nps["promoters"],
        "detractors": nps["detractors"],
        "sent": sent,
        "response_rate": round(100 * (csat["n"] + nps["n"]) / sent) if sent else None,
        "by_trigger": by_trigger,
    }
