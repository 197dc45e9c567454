"""Panel 5: aftercare — visits coming due, overdue, open tickets against their SLA, warranty vs
paid work, and renovation leads from the 5-year visits.

Definitions (see docs/metrics.md); filters: channel and sales apply to the customer, designer and
project manager to the project.
- **Visits due next 30 days**: open (scheduled) maintenance plans due from today to today + 30
  (tenant's today; a snapshot, not bound to the period). **Overdue**: open plans due before today.
- **Tickets open by SLA state** (now): tickets not resolved or closed, split into *breached*
  (unanswered past the first-response deadline, or unresolved past the resolution deadline),
  *due within 24 h* (the next deadline falls in the coming 24 hours) and *on track*.
- **Warranty vs paid**: tickets created in the period, by ``under_warranty``.
- **Renovation leads**: 5-year visits (plan kinds that create a renovation lead) completed in the
  period; leads = those visits that created a lead; signed = of those, customers who signed a
  contract (not cancelled) on or after the visit day.
"""

from __future__ import annotations

import datetime

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from aftercare.models import MaintenancePlan, PlanStatus, ServiceTicket, TicketStatus, Visit, VisitStatus
from analytics.scope import Scope
from analytics.selectors.common import chart, column, kpi, panel, ratio, related_filters, row, table
from projects.models import Project

SLA_STATES = {
    "breached": _("已超时"),
    "due_soon": _("24 小时内到期"),
    "on_track": _("正常"),
}


def breached_ticket_q(now: datetime.datetime) -> Q:
    return Q(resolution_due_at__lt=now) | Q(first_responded_at__isnull=True, first_response_due_at__lt=now)


def due_soon_ticket_q(now: datetime.datetime) -> Q:
    soon = now + datetime.timedelta(hours=24)
    return ~breached_ticket_q(now) & (
        Q(first_responded_at__isnull=True, first_response_due_at__lt=soon) | Q(resolution_due_at__lt=soon)
    )


def open_ticket_q() -> Q:
    return ~Q(status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED])


def aftercare_panel(scope: Scope) -> dict:
    period = scope.period
    now = scope.now or timezone.now()
    today = now.astimezone(period.tz).date()
    conditions = related_filters(scope)
    unfiltered = not any(scope.filters_dict().values())
    plans = MaintenancePlan.objects.filter(status=PlanStatus.SCHEDULED, **conditions).aggregate(
        due_30=Count("id", filter=Q(due_on__gte=today, due_on__lte=today + datetime.timedelta(days=30))),
        overdue=Count("id", filter=Q(due_on__lt=today)),
    )
    breached, due_soon = breached_ticket_q(now), due_soon_ticket_q(now)
    # The open tickets (now) and the period's new ones by warranty, in one statement.
    is_open, created_in = open_ticket_q(), Q(created_at__gte=period.start_at, created_at__lt=period.end_at)
    counts = ServiceTicket.objects.filter(is_open | created_in, **conditions).aggregate(
        open=Count("id", filter=is_open),
        breached=Count("id", filter=is_open & breached),
        due_soon=Count("id", filter=is_open & due_soon),
        created=Count("id", filter=created_in),
        **{
            f"{key}_{name}": Count("id", filter=created_in & Q(under_warranty=flag) & extra)
            for key, flag in (("warranty", True), ("paid", False))
            for name, extra in (("tickets", Q()), ("open", is_open))
        },
    )
    tickets = {key: counts[key] for key in ("open", "breached", "due_soon")}
    tickets["on_track"] = tickets["open"] - tickets["breached"] - tickets["due_soon"]
    tickets_url = reverse("aftercare:tickets") if unfiltered else ""
    sla_rows = [
        row(state, label, {"tickets": tickets[state], "share": ratio(tickets[state], tickets["open"])})
        for state, label in SLA_STATES.items()
    ]
    by_warranty = {
        flag: {"tickets": counts[f"{key}_tickets"], "open": counts[f"{key}_open"]}
        for key, flag in (("warranty", True), ("paid", False))
    }
    created_total = counts["created"]
    warranty_rows = [
        row(
            key,
            label,
            {
                "tickets": by_warranty.get(flag, {}).get("tickets", 0),
                "open": by_warranty.get(flag, {}).get("open", 0),
                "share": ratio(by_warranty.get(flag, {}).get("tickets", 0), created_total),
            },
        )
        for key, flag, label in (("warranty", True, _("保修内")), ("paid", False, _("保外（有偿）")))
    ]
    signed_after_visit = Project.objects.filter(
        customer_id=OuterRef("customer_id"),
        signed_on__isnull=False,
        cancelled_at__isnull=True,
        signed_on__gte=OuterRef("visit_day"),
    )
    renovation = (
        Visit.objects.filter(
            status=VisitStatus.COMPLETED,
            plan__kind__creates_renovation_lead=True,
            completed_at__gte=period.start_at,
            completed_at__lt=period.end_at,
            **conditions,
        )
        .annotate(visit_day=TruncDate("completed_at", tzinfo=period.tz))
        .annotate(signed_later=Exists(signed_after_visit))
        .aggregate(
            visits=Count("id"),
            leads=Count("id", filter=Q(renovation_lead_id__isnull=False)),
            signed=Count("id", filter=Q(renovation_lead_id__isnull=False, signed_later=True)),
        )
    )
    aftercare_url = reverse("aftercare:home") if unfiltered else ""
    return panel(
        "aftercare",
        _("售后服务"),
        scope,
        kpis=[
            kpi("due_30", _("30 天内到期回访"), plans["due_30"], link=aftercare_url),
            kpi("overdue", _("逾期回访"), plans["overdue"], link=aftercare_url),
            kpi("tickets_open", _("未完成工单"), tickets["open"], link=tickets_url),
            kpi("tickets_breached", _("超时工单"), tickets["breached"]),
            kpi("renovation_leads", _("五年回访翻新线索"), renovation["leads"]),
            kpi("renovation_signed", _("翻新签约"), renovation["signed"]),
        ],
        tables=[
            table(
                "tickets_sla",
                _("未完成工单按时限状态"),
                [column("tickets", _("工单")), column("share", _("占比"), "percent")],
                sla_rows,
            ),
            table(
                "warranty",
                _("期内新工单：保修内与有偿"),
                [
                    column("tickets", _("工单")),
                    column("open", _("未完成")),
                    column("share", _("占比"), "percent"),
                ],
                warranty_rows,
            ),
            table(
                "renovation",
                _("五年回访与翻新"),
                [
                    column("visits", _("期内完成回访")),
                    column("leads", _("生成翻新线索")),
                    column("signed", _("已签约")),
                    column("conversion", _("签约率"), "percent"),
                ],
                [
                    row(
                        "five_year",
                        _("五年回访"),
                        {**renovation, "conversion": ratio(renovation["signed"], renovation["leads"])},
                    )
                ],
            ),
        ],
        charts=[
            chart("tickets_sla", "bar", "tickets_sla", ["tickets"], _("未完成工单时限状态")),
            chart("warranty", "pie", "warranty", ["tickets"], _("保修内与有偿工单")),
        ],
        notes=[
            _("回访到期、逾期与未完成工单为实时数据（以租户时区的今天为准），不受时间范围影响。"),
            _("超时：未按时首次响应，或已过解决时限仍未解决；24 小时内到期：下一个时限在 24 小时内。"),
            _("翻新签约：五年回访生成线索后，该客户在回访当天或之后签约（未取消）的合同。"),
            _("售后暂无收费金额记录，有偿工单按“保外”工单计数。"),
        ],
    )
