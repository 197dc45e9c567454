"""Role workbenches: the signed-in user's own work on the home page (a ``crm.extensions`` home
widget), one section per role the user has. Every section is a fixed number of aggregate queries
plus a few short lists, so the page costs the same however much data the tenant has.

- Sales: my leads waiting (with a live countdown), my follow-ups due today / overdue, my
  measurements this week, my month vs target.
- Designer / project manager / supervisor: my projects by stage with overdue flags, re-inspections
  due (open rectifications past their deadline), rectifications open, change orders awaiting the customer.
- Customer service: visits due today / this week, overdue visits, my open tickets by SLA state,
  surveys awaiting answers.
- Manager: today's alarms (lead SLA breaches, overdue stages, overdue visits, failed deliveries)
  and yesterday vs target.
"""

from __future__ import annotations

import calendar
import datetime

from django.db import connection
from django.db.models import Case, Count, Q, Sum, Value, When, Window
from django.db.models.expressions import RawSQL
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.models import MaintenancePlan, PlanStatus, ServiceTicket, Survey, Visit, VisitStatus
from analytics.models import SalesTarget
from analytics.selectors.aftercare import SLA_STATES, breached_ticket_q, due_soon_ticket_q, open_ticket_q
from analytics.selectors.common import chart, column, ratio, row, table
from analytics.selectors.projects import live_overdue_expression, stage_deadlines
from analytics.selectors.sla import breached_q
from crm.events.models import DeliveryStatus, EventDelivery
from crm.extensions import Panel
from crm.models import Role, Tenant, User
from crm.notifications.models import Delivery, OutboundStatus
from crm.permissions import has_permission
from customers.models import Customer, FollowUp, Lead, LeadStatus
from customers.visibility import customer_ids_with_full_phone
from projects import selectors as project_selectors
from projects.models import ChangeOrder, ChangeOrderStatus, Project, Rectification, Stage

LIST_LIMIT = 8


def _day_bounds(day: datetime.date, tz) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime.combine(day, datetime.time.min, tzinfo=tz)
    return start, start + datetime.timedelta(days=1)


def sales_workbench(*, tenant: Tenant, user: User, now: datetime.datetime) -> dict:
    tz = tenant.zoneinfo
    today = now.astimezone(tz).date()
    today_start, tomorrow = _day_bounds(today, tz)
    monday = today - datetime.timedelta(days=today.weekday())
    week_start = _day_bounds(monday, tz)[0]
    month_first = today.replace(day=1)
    month_start = _day_bounds(month_first, tz)[0]
    # A rep's open leads are few (answered within minutes): list and counts in one statement.
    leads = list(
        Lead.objects.filter(status=LeadStatus.OPEN, assignee=user)
        .select_related("customer")
        .annotate(
            waiting=Window(Count("id")),
            late=Window(Count("id", filter=Q(first_response_due_at__lt=now))),
        )
        .order_by("first_response_due_at", "id")[:LIST_LIMIT]
    )
    # Whose full number the rep may see, for the whole list at once (not one query per card).
    full_phone = customer_ids_with_full_phone(user, [lead.customer for lead in leads])
    for lead in leads:
        lead.full_phone = lead.customer_id in full_phone
    # Due: the planned next time of a customer's latest touch (``superseded_at`` marks the others).
    follow_ups = FollowUp.objects.filter(
        author=user, superseded_at__isnull=True, next_follow_up_at__lt=tomorrow
    )
    # Counting an indexed column: an index-only scan of the partial index (thousands may be due).
    follow_up_counts = follow_ups.aggregate(
        overdue=Count("next_follow_up_at", filter=Q(next_follow_up_at__lt=today_start)),
        today=Count("next_follow_up_at", filter=Q(next_follow_up_at__gte=today_start)),
    )
    measured = list(
        Customer.objects.filter(
            owner=user, measured_at__gte=week_start, measured_at__lt=week_start + datetime.timedelta(days=7)
        )
        .annotate(n=Window(Count("id")))
        .order_by("measured_at")
        .values("pk", "name", "measured_at", "n")[:LIST_LIMIT]
    )
    signed = Project.objects.filter(
        customer__owner=user, signed_on__gte=month_first, signed_on__lte=today, cancelled_at__isnull=True
    ).aggregate(n=Count("id"), value=Sum("contract_amount_fen"))
    target = (
        SalesTarget.objects.filter(user=user, month=month_first)
        .values("contract_value_fen", "signed_count")
        .first()
    )
    value = signed["value"] or 0
    return {
        "leads": leads,
        "leads_waiting": leads[0].waiting if leads else 0,
        "leads_late": leads[0].late if leads else 0,
        "follow_ups": list(follow_ups.select_related("customer").order_by("next_follow_up_at")[:LIST_LIMIT]),
        "follow_ups_today": follow_up_counts["today"],
        "follow_ups_overdue": follow_up_counts["overdue"],
        "measured": measured,
        "measured_count": measured[0]["n"] if measured else 0,
        "month_signed": signed["n"],
        "month_value": value,
        "month_target": target["contract_value_fen"] if target else None,
        "month_attainment": ratio(value, target["contract_value_fen"])
        if target and target["contract_value_fen"]
        else None,
        "month_new_customers": Customer.objects.filter(owner=user, created_at__gte=month_start).count(),
        "now": now,
    }


#: The project columns that make a project "mine" on the delivery workbench.
DELIVERY_ROLES = ("designer_id", "project_manager_id", "supervisor_id")


def overdue_first_ids(*, tenant: Tenant, user: User, deadlines: dict[str, datetime.datetime]) -> RawSQL:
    """The ids of my first ``LIST_LIMIT`` live projects, overdue ones first, then the longest in
    their stage (``stage_entered_at``, ``id``), as a subquery: ordered and cut in SQL from the
    three role columns' live-project indexes (``analytics`` 0009) read index-only — a project
    manager may have thousands of projects, and none of their rows is fetched but the 8 shown.
    ``UNION`` (not ``ALL``) keeps a project I hold two roles on once; the overdue test is
    ``live_overdue_expression``'s, a stage without a deadline never late."""
    table = Project._meta.db_table
    adapt = connection.ops.adapt_datetimefield_value
    mine = " UNION ".join(
        f"SELECT id, stage, stage_entered_at FROM {table} WHERE tenant_id = %s AND {role} = %s"
        " AND cancelled_at IS NULL AND handed_over_on IS NULL AND stage <> %s"
        for role in DELIVERY_ROLES
    )
    params: list = [value for _role in DELIVERY_ROLES for value in (tenant.pk, user.pk, Stage.HANDOVER)]
    late = "false"
    if deadlines:
        whens = " ".join("WHEN %s THEN %s" for _ in deadlines)
        late = f"COALESCE(u.stage_entered_at < CASE u.stage {whens} END, false)"
        params += [value for stage, deadline in deadlines.items() for value in (stage, adapt(deadline))]
    # Raw SQL is not scoped by the tenant manager: the tenant condition is explicit (RLS also applies).
    sql = f"SELECT u.id FROM ({mine}) u ORDER BY {late} DESC, u.stage_entered_at, u.id LIMIT %s"
    return RawSQL(sql, [*params, LIST_LIMIT])


def delivery_workbench(*, tenant: Tenant, user: User, now: datetime.datetime) -> dict:
    today = now.astimezone(tenant.zoneinfo).date()
    mine = Q(designer=user) | Q(project_manager=user) | Q(supervisor=user)
    live = Q(cancelled_at__isnull=True, handed_over_on__isnull=True)
    active = live & ~Q(stage=Stage.HANDOVER)
    settings = project_selectors.stage_settings(tenant=tenant)  # the tenant's names, read once
    deadlines = stage_deadlines(tenant=tenant, now=now, settings=settings)
    # every project here is live
    overdue = Q(live_overdue_expression(tenant=tenant, now=now, deadlines=deadlines))
    stages = list(
        Project.objects.filter(mine, active)
        .values("stage")
        .annotate(n=Count("id"), overdue=Count("id", filter=overdue))
        .order_by("stage")
    )
    info = {setting.key: setting for setting in settings}
    stages.sort(key=lambda item: info[item["stage"]].index if item["stage"] in info else len(info))
    for item in stages:  # in the pipeline's order, by the tenant's stage names
        item["label"] = info[item["stage"]].name if item["stage"] in info else item["stage"]
    my_projects = Q(project__designer=user) | Q(project__project_manager=user) | Q(project__supervisor=user)
    # Open rectifications (a handful per person): the list with its counts in one statement
    # (window counts over the whole set, computed before the LIMIT).
    rectifications = list(
        Rectification.objects.filter(my_projects, status=Rectification.Status.OPEN)
        .select_related("project")
        .annotate(n=Window(Count("id")), due=Window(Count("id", filter=Q(due_on__lte=today))))
        .order_by("due_on")[:LIST_LIMIT]
    )
    awaiting = ChangeOrder.objects.filter(my_projects, status=ChangeOrderStatus.SENT)
    return {
        "stages": stages,
        # My projects, overdue ones first (the list the projects app's home widget used to show).
        "projects": list(
            Project.objects.filter(pk__in=overdue_first_ids(tenant=tenant, user=user, deadlines=deadlines))
            .annotate(is_overdue=Case(When(overdue, then=Value(True)), default=Value(False)))
            .order_by("-is_overdue", "stage_entered_at", "id")
        ),
        # One-tap site actions on each project row (the daily log, the inspection form).
        "can_log": has_permission(user, "projects.daily_log"),
        "can_inspect": has_permission(user, "projects.inspect"),
        "rectifications_open": rectifications[0].n if rectifications else 0,
        "reinspections_due": rectifications[0].due if rectifications else 0,
        "rectifications": rectifications,
        "change_orders_awaiting": awaiting.count(),  # can be hundreds: counted apart from the list
        "change_orders": list(awaiting.select_related("project").order_by("id")[:LIST_LIMIT]),
        "today": today,
    }


def service_workbench(*, tenant: Tenant, user: User, now: datetime.datetime) -> dict:
    today = now.astimezone(tenant.zoneinfo).date()
    plans = MaintenancePlan.objects.filter(status=PlanStatus.SCHEDULED, assigned_to=user)
    plan_counts = plans.aggregate(
        today=Count("id", filter=Q(due_on=today)),
        week=Count("id", filter=Q(due_on__gte=today, due_on__lte=today + datetime.timedelta(days=6))),
        overdue=Count("id", filter=Q(due_on__lt=today)),
    )
    tickets = ServiceTicket.objects.filter(open_ticket_q(), assigned_to=user).aggregate(
        open=Count("id"),
        breached=Count("id", filter=breached_ticket_q(now)),
        due_soon=Count("id", filter=due_soon_ticket_q(now)),
    )
    tickets["on_track"] = tickets["open"] - tickets["breached"] - tickets["due_soon"]
    return {
        "plans_today": plan_counts["today"],
        "plans_week": plan_counts["week"],
        "plans_overdue": plan_counts["overdue"],
        "plans": list(
            plans.filter(due_on__lte=today + datetime.timedelta(days=6))
            .select_related("customer", "kind")
            .order_by("due_on", "id")[:LIST_LIMIT]
        ),
        # Booked visits up to a week ahead (overdue first): one tap opens the completion form.
        "visits": list(
            Visit.objects.filter(status=VisitStatus.SCHEDULED, plan__status=PlanStatus.SCHEDULED)
            .filter(Q(technician=user) | Q(technician__isnull=True, plan__assigned_to=user))
            .filter(scheduled_at__lt=now + datetime.timedelta(days=7))
            .select_related("customer", "plan__kind")
            .order_by("scheduled_at", "id")[:LIST_LIMIT]
        ),
        "tickets": tickets,
        "surveys_waiting": Survey.objects.filter(answered_at__isnull=True, expires_at__gt=now).count(),
        "today": today,
    }


def manager_workbench(*, tenant: Tenant, now: datetime.datetime) -> dict:
    tz = tenant.zoneinfo
    today = now.astimezone(tz).date()
    today_start, _tomorrow = _day_bounds(today, tz)
    yesterday = today - datetime.timedelta(days=1)
    yesterday_start = today_start - datetime.timedelta(days=1)
    breaches = Lead.objects.filter(Q(received_at__gte=today_start) | Q(status=LeadStatus.OPEN)).aggregate(
        today=Count("id", filter=Q(received_at__gte=today_start) & breached_q(now)),
        open_late=Count("id", filter=Q(status=LeadStatus.OPEN, first_response_due_at__lt=now)),
    )
    signed = Project.objects.filter(signed_on=yesterday, cancelled_at__isnull=True).aggregate(
        n=Count("id"), value=Sum("contract_amount_fen")
    )
    team = (
        SalesTarget.objects.filter(user=None, month=yesterday.replace(day=1))
        .values("contract_value_fen", "signed_count", "new_customers")
        .first()
    )
    if team is None:
        team = SalesTarget.objects.filter(user__isnull=False, month=yesterday.replace(day=1)).aggregate(
            contract_value_fen=Sum("contract_value_fen"),
            signed_count=Sum("signed_count"),
            new_customers=Sum("new_customers"),
        )
    days = calendar.monthrange(yesterday.year, yesterday.month)[1]
    daily = {key: round(value / days) if value else None for key, value in team.items()}
    new_customers = Customer.objects.filter(
        created_at__gte=yesterday_start, created_at__lt=today_start
    ).count()
    return {
        "sla_breaches_today": breaches["today"],
        "leads_open_late": breaches["open_late"],
        "overdue_stages": Project.objects.filter(project_selectors.overdue_q(tenant=tenant, now=now)).count(),
        "overdue_visits": MaintenancePlan.objects.filter(
            status=PlanStatus.SCHEDULED, due_on__lt=today
        ).count(),
        "failed_events": EventDelivery.objects.filter(status=DeliveryStatus.DEAD).count(),
        "failed_notifications": Delivery.objects.filter(status=OutboundStatus.FAILED).count(),
        "yesterday": yesterday,
        "yesterday_signed": signed["n"],
        "yesterday_value": signed["value"] or 0,
        "yesterday_new_customers": new_customers,
        "daily_target": daily,
    }


def workbench_sections(*, tenant: Tenant, user: User, now: datetime.datetime | None = None) -> list[dict]:
    """The sections of ``user``'s workbench, one per role they have, in a fixed order."""
    now = now or timezone.now()
    sections = []
    if user.has_role(Role.MANAGER):
        sections.append(
            {"role": "manager", "title": _("今日预警"), **manager_workbench(tenant=tenant, now=now)}
        )
    if user.has_role(Role.SALES):
        sections.append(
            {"role": "sales", "title": _("我的待办"), **sales_workbench(tenant=tenant, user=user, now=now)}
        )
    if any(user.has_role(role) for role in (Role.DESIGNER, Role.PROJECT_MANAGER, Role.SUPERVISOR)):
        sections.append(
            {
                "role": "delivery",
                "title": _("我的项目"),
                **delivery_workbench(tenant=tenant, user=user, now=now),
            }
        )
    if user.has_role(Role.SERVICE):
        sections.append(
            {
                "role": "service",
                "title": _("我的售后"),
                **service_workbench(tenant=tenant, user=user, now=now),
            }
        )
    return sections


def section_charts(section: dict) -> dict:
    """A section's chart in the dashboard's shape (``{"key", "tables", "charts"}``), drawn by the
    same script (static/js/analytics.js) from the numbers the section prints."""
    role = section["role"]
    count = [column("count", _("数量"))]
    if role == "manager":
        figures = [
            ("sla_breaches_today", _("今日线索超时")),
            ("leads_open_late", _("超时未响应线索")),
            ("overdue_stages", _("阶段超期项目")),
            ("overdue_visits", _("逾期回访")),
        ]
        rows = [row(key, label, {"count": section[key]}) for key, label in figures]
        data = table("alarms", _("今日预警"), count, rows)
        charts = [chart("alarms", "bar", "alarms", ["count"], _("今日预警"))]
    elif role == "sales":
        columns = [column("actual", _("实际"), "money"), column("target", _("目标（元）"), "money")]
        rows = [
            row("month", _("本月"), {"actual": section["month_value"], "target": section["month_target"]})
        ]
        data = table("month", _("本月签约额 / 目标（元）"), columns, rows)
        charts = [chart("month", "hbar", "month", ["actual", "target"], _("本月签约额 / 目标（元）"))]
    elif role == "delivery":
        columns = [column("n", _("项目")), column("overdue", _("超期"))]
        rows = [
            row(item["stage"], item["label"], {"n": item["n"], "overdue": item["overdue"]})
            for item in section["stages"]
        ]
        data = table("stages", _("我的项目（按阶段）"), columns, rows)
        charts = [chart("stages", "bar", "stages", ["n", "overdue"], _("我的项目（按阶段）"))]
    else:
        rows = [
            row(state, label, {"count": section["tickets"][state]}) for state, label in SLA_STATES.items()
        ]
        data = table("tickets", _("我的未完成工单（按时限状态）"), [column("count", _("工单"))], rows)
        charts = [chart("tickets", "bar", "tickets", ["count"], _("我的未完成工单（按时限状态）"))]
    return {"key": f"workbench-{role}", "tables": [data], "charts": charts}


def workbench_widget(*, request, tenant) -> Panel | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    sections = workbench_sections(tenant=tenant, user=user)
    if not sections:
        return None
    for section in sections:
        section["chart"] = section_charts(section)
    charts_data = [section["chart"] for section in sections]
    html = render_to_string(
        "analytics/_workbench.html", {"sections": sections, "charts_data": charts_data}, request=request
    )
    return Panel(title=str(_("工作台")), html=html, order=0)
