"""Panel 7: satisfaction — CSAT by touchpoint and the NPS trend, from the answered surveys.

Definitions (see docs/metrics.md); filters: channel and sales apply to the customer, designer and
project manager to the survey's project.
- **CSAT** (1–5): average score of the CSAT surveys *answered* in the period, per touchpoint (the
  survey's trigger: design approval, plumbing/electrical inspection, handover, visit, ticket,
  yearly); **satisfied** = score 4 or 5.
- **NPS** (0–10): promoters score 9–10, passives 7–8, detractors 0–6;
  NPS = round(100 × (promoters − detractors) ÷ answers). Trend: the 12 calendar months (tenant
  time) ending with the period, by answer month.
- **Response rate**: surveys sent (created) in the period that have been answered ÷ sent.
"""

from __future__ import annotations

from django.db.models import Avg, Count, Q
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from aftercare.models import Survey, SurveyKind, SurveyTrigger
from analytics.scope import Scope
from analytics.selectors.common import (
    chart,
    column,
    kpi,
    local_start,
    month_starts,
    panel,
    ratio,
    related_filters,
    rounded,
    row,
    table,
)

PROMOTER, DETRACTOR = Q(score__gte=9), Q(score__lte=6)


def nps(promoters: int, detractors: int, answers: int) -> int | None:
    return round(100 * (promoters - detractors) / answers) if answers else None


def _nps_counts(condition: Q | None = None) -> dict:
    condition = (condition or Q()) & Q(kind=SurveyKind.NPS)
    return {
        "answers": Count("id", filter=condition),
        "promoters": Count("id", filter=condition & PROMOTER),
        "passives": Count("id", filter=condition & Q(score__gte=7, score__lte=8)),
        "detractors": Count("id", filter=condition & DETRACTOR),
    }


def satisfaction_panel(scope: Scope) -> dict:
    period, previous = scope.period, scope.previous
    surveys = Survey.objects.filter(answered_at__isnull=False, **related_filters(scope))
    answered_in = Q(answered_at__gte=period.start_at, answered_at__lt=period.end_at)
    answered_before = Q(answered_at__gte=previous.start_at, answered_at__lt=previous.end_at)
    csat_q = Q(kind=SurveyKind.CSAT)
    totals = surveys.filter(answered_at__gte=previous.start_at, answered_at__lt=period.end_at).aggregate(
        csat=Avg("score", filter=answered_in & csat_q),
        csat_answers=Count("id", filter=answered_in & csat_q),
        csat_prev=Avg("score", filter=answered_before & csat_q),
        **_nps_counts(answered_in),
        **{f"{key}_prev": value for key, value in _nps_counts(answered_before).items()},
    )
    sent = Survey.objects.filter(
        created_at__gte=period.start_at, created_at__lt=period.end_at, **related_filters(scope)
    ).aggregate(sent=Count("id"), answered=Count("id", filter=Q(answered_at__isnull=False)))
    labels = dict(SurveyTrigger.choices)
    by_trigger = {
        item["trigger"]: item
        for item in surveys.filter(answered_in, csat_q)
        .values("trigger")
        .annotate(answers=Count("id"), average=Avg("score"), satisfied=Count("id", filter=Q(score__gte=4)))
    }
    csat_rows = [
        row(
            trigger,
            labels[trigger],
            {
                "answers": item["answers"],
                "average": rounded(item["average"], 2),
                "satisfied_share": ratio(item["satisfied"], item["answers"]),
            },
        )
        for trigger in SurveyTrigger.values
        if (item := by_trigger.get(trigger))
    ]
    months = month_starts(period)
    monthly = {
        item["month"].astimezone(period.tz).date(): item
        for item in surveys.filter(
            kind=SurveyKind.NPS,
            answered_at__gte=local_start(months[0], period.tz),
            answered_at__lt=period.end_at,
        )
        .annotate(month=TruncMonth("answered_at", tzinfo=period.tz))
        .values("month")
        .annotate(**_nps_counts())
    }
    nps_rows = []
    for month in months:
        item = monthly.get(month, {})
        counts = {key: item.get(key, 0) for key in ("answers", "promoters", "passives", "detractors")}
        nps_rows.append(
            row(
                month.isoformat(),
                f"{month:%Y-%m}",
                {**counts, "nps": nps(counts["promoters"], counts["detractors"], counts["answers"])},
            )
        )
    return panel(
        "satisfaction",
        _("客户满意度"),
        scope,
        kpis=[
            kpi(
                "csat",
                _("CSAT 平均分（1–5）"),
                rounded(totals["csat"], 2),
                rounded(totals["csat_prev"], 2),
                "score",
            ),
            kpi("csat_answers", _("CSAT 回答数"), totals["csat_answers"]),
            kpi(
                "nps",
                _("NPS"),
                nps(totals["promoters"], totals["detractors"], totals["answers"]),
                nps(totals["promoters_prev"], totals["detractors_prev"], totals["answers_prev"]),
                "score",
            ),
            kpi("nps_answers", _("NPS 回答数"), totals["answers"]),
            kpi("response_rate", _("问卷回收率"), ratio(sent["answered"], sent["sent"]), kind="percent"),
        ],
        tables=[
            table(
                "csat_by_touchpoint",
                _("各触点 CSAT"),
                [
                    column("answers", _("回答数")),
                    column("average", _("平均分"), "score"),
                    column("satisfied_share", _("满意（4–5 分）占比"), "percent"),
                ],
                csat_rows,
            ),
            table(
                "nps_monthly",
                _("NPS 近 12 个月"),
                [
                    column("answers", _("回答数")),
                    column("promoters", _("推荐者（9–10）")),
                    column("passives", _("被动者（7–8）")),
                    column("detractors", _("贬损者（0–6）")),
                    column("nps", _("NPS"), "score"),
                ],
                nps_rows,
            ),
        ],
        charts=[
            chart("csat", "bar", "csat_by_touchpoint", ["average"], _("各触点 CSAT 平均分")),
            chart(
                "nps_mix",
                "stack",
                "nps_monthly",
                ["promoters", "passives", "detractors"],
                _("NPS 构成（人数）"),
            ),
            chart("nps_trend", "line", "nps_monthly", ["nps"], _("NPS 趋势")),
        ],
        notes=[
            _("按问卷回答时间统计；CSAT 满意为 4–5 分。"),
            _("NPS = 推荐者占比 − 贬损者占比（×100）；回收率：期内发出的问卷中已回答的比例。"),
        ],
    )
