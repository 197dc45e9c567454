"""Panel 2: first-response SLA of the leads received in the period.

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

from django.db import connection
from django.db.models import Case, DateField, F, IntegerField, Q, Value, When
from django.db.models.functions import Cast, ExtractHour, TruncWeek
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from analytics.aggregates import percentile_sql
from analytics.scope import Scope
from analytics.selectors.common import chart, column, kpi, panel, ratio, rounded, row, table
from crm.models import User
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


# The statement's groupings (``kind`` column): totals of the period and the previous one, then the
# period by sales user, channel and arrival hour, then the weekly trend.
TOTALS, BY_USER, BY_CHANNEL, BY_HOUR, WEEKLY = range(5)
CURRENT, PREVIOUS = 1, 2
LEAD_COLUMNS = (
    "assignee_id",
    "source_channel",
    "part",
    "hour",
    "week",
    "response_seconds",
    "responded",
    "breached",
)


def _trend_since(scope: Scope) -> datetime.datetime:
    """Start of the weekly trend: the Monday (tenant time) 12 weeks before the period's end."""
    period = scope.period
    trend_start = period.end - datetime.timedelta(days=7 * 12)
    trend_start -= datetime.timedelta(days=trend_start.weekday())
    return datetime.datetime.combine(trend_start, datetime.time.min, tzinfo=period.tz)


def _lead_rows(scope: Scope, now: datetime.datetime) -> tuple[str, tuple]:
    """One narrow row per lead any figure counts: the keys of every grouping and the measures.

    Built by the ORM (the same conditions as before, and the tenant-time expressions of either
    database); ``part``/``hour``/``week`` are NULL for the leads outside the period, the previous
    period or the trend, so each grouping only filters on its own key."""
    period, previous = scope.period, scope.previous
    trend_since = _trend_since(scope)
    current = Q(received_at__gte=period.start_at, received_at__lt=period.end_at)
    before = Q(received_at__gte=previous.start_at, received_at__lt=previous.end_at)
    one = Value(1)
    rows = (
        _leads(scope, min(previous.start_at, trend_since), period.end_at)
        .annotate(
            part=Case(
                When(current, then=Value(CURRENT)),
                When(before, then=Value(PREVIOUS)),
                output_field=IntegerField(),
            ),
            hour=Case(
                When(current, then=ExtractHour("received_at", tzinfo=period.tz)), output_field=IntegerField()
            ),
            week=Case(
                When(
                    received_at__gte=trend_since,
                    then=Cast(TruncWeek("received_at", tzinfo=period.tz), DateField()),
                ),
                output_field=DateField(),
            ),
            responded=Case(When(first_responded_at__isnull=False, then=one), output_field=IntegerField()),
            breached=Case(When(breached_q(now), then=one), output_field=IntegerField()),
        )
        .values_list(*LEAD_COLUMNS)
        .order_by()
    )
    return rows.query.sql_with_params()


def _grouped(scope: Scope, now: datetime.datetime) -> dict[int, list[dict]]:
    """Every figure of the panel from one statement: the lead rows are read once (a CTE) and
    aggregated per period (two plain aggregates: no sort of all the leads by a key), then grouped by
    user, channel, hour and week. Per group: leads, responded, median and P90 of
    ``response_seconds`` (``percentile_cont``), breached — the same definitions as one aggregate
    per grouping."""
    rows_sql, params = _lead_rows(scope, now)
    vendor = connection.vendor
    measures = (
        "COUNT(*) AS leads, COUNT(responded) AS responded, "
        f"{percentile_sql('s', 0.5, vendor)} AS median, {percentile_sql('s', 0.9, vendor)} AS p90, "
        "COUNT(breached) AS breached"
    )
    names = "NULL, NULL"
    sql = f"""WITH l (a, ch, part, hour, week, s, responded, breached) AS ({rows_sql})
    SELECT {TOTALS} AS kind, CAST({CURRENT} AS BIGINT) AS k, CAST(NULL AS TEXT) AS ch,
        CAST(NULL AS DATE) AS week, CAST(NULL AS TEXT) AS name, CAST(NULL AS TEXT) AS username, {measures}
        FROM l WHERE part = {CURRENT}
    UNION ALL SELECT {TOTALS}, {PREVIOUS}, NULL, NULL, {names}, {measures} FROM l WHERE part = {PREVIOUS}
    UNION ALL SELECT {BY_USER}, g.a, NULL, NULL, u.display_name, u.username, g.leads, g.responded, g.median,
        g.p90, g.breached
        FROM (SELECT a, {measures} FROM l WHERE part = {CURRENT} GROUP BY a) g
        LEFT JOIN {User._meta.db_table} u ON u.id = g.a
    UNION ALL SELECT {BY_CHANNEL}, NULL, ch, NULL, {names}, {measures}
        FROM l WHERE part = {CURRENT} GROUP BY ch
    UNION ALL SELECT {BY_HOUR}, CAST(hour AS BIGINT), NULL, NULL, {names}, {measures}
        FROM l WHERE part = {CURRENT} GROUP BY hour
    UNION ALL SELECT {WEEKLY}, NULL, NULL, week, {names}, {measures}
        FROM l WHERE week IS NOT NULL GROUP BY week
    ORDER BY kind, name, k, ch, week"""  # noqa: S608 - our names and the ORM's SQL, values are parameters
    grouped: dict[int, list[dict]] = {kind: [] for kind in range(5)}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [column[0] for column in cursor.description]
        for values in cursor.fetchall():
            item = dict(zip(columns, values, strict=True))
            if isinstance(item["week"], str):  # SQLite returns dates as text
                item["week"] = datetime.date.fromisoformat(item["week"])
            grouped[item["kind"]].append(item)
    return grouped


EMPTY = {"leads": 0, "responded": 0, "median": None, "p90": None, "breached": 0}


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
    period = scope.period
    grouped = _grouped(scope, now)
    totals = {item["k"]: item for item in grouped[TOTALS]}
    now_values = _values(totals.get(CURRENT, EMPTY))
    prev_values = _values(totals.get(PREVIOUS, EMPTY))
    user_rows = [
        row(
            item["k"] or "none",
            item["name"] or item["username"] or _("未分配"),
            _values(item),
            _links(scope, sales=item["k"]) if item["k"] else _links(scope, assignee="none"),
        )
        for item in grouped[BY_USER]
    ]
    labels = dict(SourceChannel.choices)
    channel_rows = [
        row(item["ch"], labels.get(item["ch"], item["ch"]), _values(item), _links(scope, channel=item["ch"]))
        for item in grouped[BY_CHANNEL]
    ]
    by_hour = {item["k"]: item for item in grouped[BY_HOUR]}
    hour_rows = [
        row(hour, f"{hour:02d}:00", _values(by_hour[hour]), _links(scope, hour=hour))
        for hour in range(24)
        if hour in by_hour
    ]
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
        for item in grouped[WEEKLY]
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
