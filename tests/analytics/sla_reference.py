"""The SLA panel as computed before its statements were merged (one aggregate per
grouping): kept only as the oracle of ``test_panel_statements`` (the panel must give the same
numbers).

The definitions, as documented then:
Panel 2: first-response SLA of the leads received in the period.

Definitions (see docs/metrics.md):
- **Leads**: inquiries received in the period (``Lead.received_at``), filters: channel = the
  lead's channel, sales = the lead's assignee.
- **Response time**: ``response_seconds``, from the SLA clock start (business hours aware) to the
  first human follow-up; median and P90 over the responded leads (``percentile_cont``).
- **Breached**: answered after ``first_response_due_at``, flagged by the SLA scan, or still
  unanswered past it now. **Breach rate** = breached ÷ leads.
- **Weekly trend**: the 12 weeks (Monday start, tenant time) ending with the period.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db.models import Count, DateField, F, Q
from django.db.models.functions import Cast, ExtractHour, TruncWeek
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from analytics.aggregates import Median, Percentile
from analytics.scope import Scope
from analytics.selectors.common import chart, column, kpi, panel, ratio, rounded, row, table
from customers.models import Lead, SourceChannel

if TYPE_CHECKING:
    from django.db.models import QuerySet


def breached_q(now: datetime.datetime) -> Q:
    return (
        Q(sla_breached=True)
        | Q(first_responded_at__isnull=False, first_responded_at__gt=F("first_response_due_at"))
        | Q(first_responded_at__isnull=True, first_response_due_at__lt=now)
    )


def _leads(scope: Scope, since: datetime.datetime, until: datetime.datetime) -> QuerySet[Lead]:
    leads = Lead.objects.filter(received_at__gte=since, received_at__lt=until)
    if scope.channel:
        leads = leads.filter(source_channel=scope.channel)
    if scope.sales_id:
        leads = leads.filter(assignee_id=scope.sales_id)
    return leads


LIST_STATES = ("responded", "breached")


def leads_for_list(
    scope: Scope,
    *,
    now: datetime.datetime,
    hour: int | None = None,
    unassigned: bool = False,
    state: str = "",
) -> QuerySet[Lead]:
    """The leads one number of the SLA panel counts: received in the scope's period (channel, sales =
    assignee), optionally of one arrival hour (tenant time), unassigned, responded or breached.
    Built from the same conditions as the panel, so the list's count is the panel's number."""
    leads = _leads(scope, scope.period.start_at, scope.period.end_at)
    if hour is not None:
        leads = leads.annotate(hour=ExtractHour("received_at", tzinfo=scope.period.tz)).filter(hour=hour)
    if unassigned:
        leads = leads.filter(assignee__isnull=True)
    if state == "responded":
        leads = leads.filter(first_responded_at__isnull=False)
    elif state == "breached":
        leads = leads.filter(breached_q(now))
    return leads


def _links(scope: Scope, **params: Any) -> dict:
    """Each figure of a row links to the lead list it counts (median and P90 to the responded leads
    they are computed over, the breach rate to the breached ones)."""
    base = {**scope.query(), **{key: str(value) for key, value in params.items() if value is not None}}
    url = reverse("analytics:leads")
    everything = f"{url}?{urlencode(base)}"
    responded = f"{url}?{urlencode({**base, 'state': 'responded'})}"
    breached = f"{url}?{urlencode({**base, 'state': 'breached'})}"
    return {
        "leads": everything,
        "responded": responded,
        "median_minutes": responded,
        "p90_minutes": responded,
        "breached": breached,
        "breach_rate": breached,
    }


def _stats(condition: Q, now: datetime.datetime) -> dict:
    return {
        "leads": Count("id", filter=condition),
        "responded": Count("id", filter=condition & Q(first_responded_at__isnull=False)),
        "median": Median("response_seconds", filter=condition),
        "p90": Percentile("response_seconds", 0.9, filter=condition),
        "breached": Count("id", filter=condition & breached_q(now)),
    }


def _values(item: Mapping[str, Any]) -> dict:
    return {
        "leads": item["leads"],
        "responded": item["responded"],
        "median_minutes": rounded(item["median"] / 60) if item["median"] is not None else None,
        "p90_minutes": rounded(item["p90"] / 60) if item["p90"] is not None else None,
        "breached": item["breached"],
        "breach_rate": ratio(item["breached"], item["leads"]),
    }


COLUMNS = [
    column("leads", _("线索")),
    column("responded", _("已响应")),
    column("median_minutes", _("响应中位数（分钟）"), "minutes"),
    column("p90_minutes", _("P90（分钟）"), "minutes"),
    column("breached", _("超时")),
    column("breach_rate", _("超时率"), "percent"),
]


def sla_panel(scope: Scope) -> dict:
    now = scope.now or timezone.now()
    period, previous = scope.period, scope.previous
    tz = period.tz
    current = Q(received_at__gte=period.start_at, received_at__lt=period.end_at)
    before = Q(received_at__gte=previous.start_at, received_at__lt=previous.end_at)
    both = _leads(scope, previous.start_at, period.end_at)
    totals = both.aggregate(
        **_stats(current, now), **{f"{key}__prev": value for key, value in _stats(before, now).items()}
    )
    now_values = _values(totals)
    prev_values = _values({key[:-6]: value for key, value in totals.items() if key.endswith("__prev")})
    leads = _leads(scope, period.start_at, period.end_at)
    everything = Q()

    by_user = (
        leads.values("assignee_id", "assignee__display_name", "assignee__username")
        .annotate(**_stats(everything, now))
        .order_by("assignee__display_name", "assignee_id")
    )
    user_rows = [
        row(
            item["assignee_id"] or "none",
            item["assignee__display_name"] or item["assignee__username"] or _("未分配"),
            _values(item),
            _links(scope, sales=item["assignee_id"])
            if item["assignee_id"]
            else _links(scope, assignee="none"),
        )
        for item in by_user
    ]
    labels = dict(SourceChannel.choices)
    by_channel = leads.values("source_channel").annotate(**_stats(everything, now)).order_by("source_channel")
    channel_rows = [
        row(
            item["source_channel"],
            labels.get(item["source_channel"], item["source_channel"]),
            _values(item),
            _links(scope, channel=item["source_channel"]),
        )
        for item in by_channel
    ]
    by_hour = {
        item["hour"]: item
        for item in leads.annotate(hour=ExtractHour("received_at", tzinfo=tz))
        .values("hour")
        .annotate(**_stats(everything, now))
        .order_by("hour")
    }
    hour_rows = [
        row(hour, f"{hour:02d}:00", _values(by_hour[hour]), _links(scope, hour=hour))
        for hour in range(24)
        if hour in by_hour
    ]
    trend_start = period.end - datetime.timedelta(days=7 * 12)
    trend_start -= datetime.timedelta(days=trend_start.weekday())
    trend_since = datetime.datetime.combine(trend_start, datetime.time.min, tzinfo=tz)
    weekly = (
        _leads(scope, trend_since, period.end_at)
        .annotate(week=Cast(TruncWeek("received_at", tzinfo=tz), DateField()))
        .values("week")
        .annotate(**_stats(everything, now))
        .order_by("week")
    )
    week_rows = [
        row(
            item["week"].isoformat(),
            f"{item['week']:%m-%d}",
            _values(item),
            _links(
                scope,
                range="custom",
                start=item["week"].isoformat(),
                end=min(item["week"] + datetime.timedelta(days=6), period.last_day).isoformat(),
            ),
        )
        for item in weekly
    ]
    totals_links = _links(scope)
    return panel(
        "sla",
        _("首次响应 SLA"),
        scope,
        kpis=[
            kpi("leads", _("线索"), now_values["leads"], prev_values["leads"], link=totals_links["leads"]),
            kpi(
                "median_minutes",
                _("响应中位数（分钟）"),
                now_values["median_minutes"],
                prev_values["median_minutes"],
                "minutes",
                link=totals_links["median_minutes"],
            ),
            kpi(
                "p90_minutes",
                _("P90（分钟）"),
                now_values["p90_minutes"],
                prev_values["p90_minutes"],
                "minutes",
                link=totals_links["p90_minutes"],
            ),
            kpi(
                "breached",
                _("超时"),
                now_values["breached"],
                prev_values["breached"],
                link=totals_links["breached"],
            ),
            kpi(
                "breach_rate",
                _("超时率"),
                now_values["breach_rate"],
                prev_values["breach_rate"],
                "percent",
                link=totals_links["breach_rate"],
            ),
        ],
        tables=[
            table("by_user", _("按销售"), COLUMNS, user_rows),
            table("by_channel", _("按渠道"), COLUMNS, channel_rows),
            table("by_hour", _("按到达时段"), COLUMNS, hour_rows),
            table("weekly", _("近 12 周趋势"), COLUMNS, week_rows),
        ],
        charts=[
            chart("weekly", "line", "weekly", ["median_minutes", "p90_minutes"], _("响应时间周趋势（分钟）")),
            chart("by_hour", "bar", "by_hour", ["leads", "breached"], _("按到达时段的线索与超时")),
        ],
        notes=[
            _("响应时间按营业时间计时：非营业时间到达的线索从下次开门起计时。"),
            _("超时：晚于截止时间响应，或至今未响应且已过截止时间。"),
            _("设计师、项目经理筛选不作用于本面板。"),
        ],
        ignored_filters=["designer", "pm"],
    )
