"""Panel 3: sales performance per sales user against the monthly targets (销售排行榜).

Definitions (see docs/metrics.md), all within the period and the filters (channel = the
customer's source channel, designer = the customer's designer):
- **New customers**: customers created, by owner. **Follow-ups**: human follow-ups authored.
- **Measurements**: customers first measured (``measured_at``), by owner.
- **Signed / contract value**: projects signed (``signed_on``), not cancelled, by the customer's
  owner; value = ``contract_amount_fen``.
- **Target**: the user's monthly ``SalesTarget.contract_value_fen``, prorated by days for periods that
  are not whole months; **attainment** = contract value ÷ target. Ranked by contract value.
"""

from __future__ import annotations

from typing import TypeVar

from django.db.models import Count, Model, QuerySet, Sum
from django.utils.translation import gettext_lazy as _

from analytics.models import SalesTarget, _overlap_fraction
from analytics.scope import Scope
from analytics.selectors.common import (
    chart,
    column,
    customer_filter_params,
    customers_url,
    kpi,
    panel,
    project_filter_params,
    projects_url,
    ratio,
    row,
    table,
)
from crm.models import User
from crm.permissions import SELLS
from crm.selectors import staff_of_tenant
from customers.models import HUMAN_FOLLOW_UP_KINDS, Customer, FollowUp
from projects.models import Project

_M = TypeVar("_M", bound=Model)


def _customer_scope(scope: Scope, queryset: QuerySet[_M], prefix: str = "") -> QuerySet[_M]:
    if scope.channel:
        queryset = queryset.filter(**{f"{prefix}source_channel": scope.channel})
    if scope.designer_id:
        queryset = queryset.filter(**{f"{prefix}designer_id": scope.designer_id})
    return queryset


def targets_for(scope: Scope) -> dict[int | None, dict[str, float]]:
    """Targets per user id (``None`` = team) prorated to the period."""
    period = scope.period
    rows = SalesTarget.objects.filter(month__gte=period.start.replace(day=1), month__lt=period.end)
    result: dict[int | None, dict[str, float]] = {}
    for user_id, month, value, signed, new in rows.values_list(
        "user_id", "month", "contract_value_fen", "signed_count", "new_customers"
    ):
        share = _overlap_fraction(month, period.start, period.end)
        entry = result.setdefault(
            user_id, {"contract_value_fen": 0.0, "signed_count": 0.0, "new_customers": 0.0}
        )
        entry["contract_value_fen"] += value * share
        entry["signed_count"] += signed * share
        entry["new_customers"] += new * share
    return result


def sales_panel(scope: Scope) -> dict:
    period = scope.period
    users = staff_of_tenant(tenant=scope.tenant, duty=SELLS)
    if scope.sales_id:
        users = [user for user in users if user.pk == scope.sales_id] or list(
            User.objects.filter(tenant=scope.tenant, pk=scope.sales_id)
        )
    ids = [user.pk for user in users]
    in_period = {"created_at__gte": period.start_at, "created_at__lt": period.end_at}
    new_customers = dict(
        _customer_scope(scope, Customer.objects.filter(owner_id__in=ids, **in_period))
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    measured = dict(
        _customer_scope(
            scope,
            Customer.objects.filter(
                owner_id__in=ids, measured_at__gte=period.start_at, measured_at__lt=period.end_at
            ),
        )
        .values_list("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    follow_ups = dict(
        _customer_scope(
            scope,
            FollowUp.objects.filter(
                author_id__in=ids,
                kind__in=HUMAN_FOLLOW_UP_KINDS,
                occurred_at__gte=period.start_at,
                occurred_at__lt=period.end_at,
            ),
            "customer__",
        )
        .values_list("author_id")
        .annotate(n=Count("id"))
        .values_list("author_id", "n")
    )
    signed = {
        item["customer__owner_id"]: item
        for item in _customer_scope(
            scope,
            Project.objects.filter(
                customer__owner_id__in=ids,
                signed_on__gte=period.start,
                signed_on__lt=period.end,
                cancelled_at__isnull=True,
            ),
            "customer__",
        )
        .values("customer__owner_id")
        .annotate(n=Count("id"), value=Sum("contract_amount_fen"))
    }
    targets = targets_for(scope)
    customer_base = {key: value for key, value in customer_filter_params(scope).items() if key != "owner"}
    project_base = {
        **project_filter_params(scope),
        "pm": "",
        "signed_after": period.start.isoformat(),
        "signed_before": period.last_day.isoformat(),
    }
    rows = []
    for user in users:
        value = (signed.get(user.pk) or {}).get("value") or 0
        target = targets.get(user.pk, {}).get("contract_value_fen")
        rows.append(
            row(
                user.pk,
                user.display_name or user.username,
                {
                    "new_customers": new_customers.get(user.pk, 0),
                    "follow_ups": follow_ups.get(user.pk, 0),
                    "measured": measured.get(user.pk, 0),
                    "signed": (signed.get(user.pk) or {}).get("n", 0),
                    "value": value,
                    "target": round(target) if target is not None else None,
                    "attainment": ratio(value, target) if target else None,
                },
                {
                    "new_customers": customers_url(
                        **customer_base,
                        owner=user.pk,
                        created_after=period.start.isoformat(),
                        created_before=period.last_day.isoformat(),
                    ),
                    "measured": customers_url(
                        **customer_base,
                        owner=user.pk,
                        measured_after=period.start.isoformat(),
                        measured_before=period.last_day.isoformat(),
                    ),
                    "signed": projects_url(**{**project_base, "owner": user.pk}),
                },
            )
        )
    rows.sort(key=lambda item: (-item["values"]["value"], -item["values"]["signed"], item["label"]))
    for rank, item in enumerate(rows, start=1):
        item["values"]["rank"] = rank
    total_value = sum(item["values"]["value"] for item in rows)
    total_signed = sum(item["values"]["signed"] for item in rows)
    team_target = targets.get(None, {}).get("contract_value_fen")
    if team_target is None and not scope.restricted:
        user_targets = [targets[pk]["contract_value_fen"] for pk in ids if pk in targets]
        team_target = sum(user_targets) if user_targets else None
    if scope.restricted:
        team_target = targets.get(scope.sales_id, {}).get("contract_value_fen")
    return panel(
        "sales",
        _("销售业绩"),
        scope,
        kpis=[
            kpi("signed", _("签约单数"), total_signed),
            kpi("value", _("签约额（元）"), total_value, kind="money"),
            kpi(
                "target",
                _("目标（元）"),
                round(team_target) if team_target is not None else None,
                kind="money",
            ),
            kpi(
                "attainment",
                _("目标达成率"),
                ratio(total_value, team_target) if team_target else None,
                kind="percent",
            ),
        ],
        tables=[
            table(
                "ranking",
                _("销售排行榜"),
                [
                    column("rank", _("排名")),
                    column("new_customers", _("新客户")),
                    column("follow_ups", _("跟进次数")),
                    column("measured", _("量房")),
                    column("signed", _("签约")),
                    column("value", _("签约额（元）"), "money"),
                    column("target", _("目标（元）"), "money"),
                    column("attainment", _("达成率"), "percent"),
                ],
                rows,
            )
        ],
        charts=[chart("ranking", "hbar", "ranking", ["value", "target"], _("签约额与目标（元）"))],
        notes=[
            _("签约按客户的负责销售归属，已取消的合同不计。目标按天数折算到所选时间范围。"),
            _("团队目标：未设置团队目标时为各销售目标之和。项目经理筛选不作用于本面板。"),
        ],
        ignored_filters=["pm"],
    )
