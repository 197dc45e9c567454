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

from typing import Any

from django.db import connection
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
from customers.models import HUMAN_FOLLOW_UP_KINDS


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


def _activity_counts(scope: Scope, ids: list[int]) -> tuple[dict, dict, dict, dict[int, dict]]:
    """New customers, measurements, human follow-ups and signed contracts (count, value) per sales
    user, in one statement: four grouped index range scans (``UNION ALL``), each reading only the
    tenant-led covering index of its table when no filter needs the customer row."""
    period = scope.period
    if not ids:
        return {}, {}, {}, {}
    ops = connection.ops
    start_at = ops.adapt_datetimefield_value(period.start_at)
    end_at = ops.adapt_datetimefield_value(period.end_at)
    start, end = ops.adapt_datefield_value(period.start), ops.adapt_datefield_value(period.end)
    users = f"IN ({', '.join(['%s'] * len(ids))})"
    kinds = sorted(HUMAN_FOLLOW_UP_KINDS)
    customer_sql = ""
    customer_params: list[Any] = []
    if scope.channel:
        customer_sql += " AND c.source_channel = %s"
        customer_params.append(scope.channel)
    if scope.designer_id:
        customer_sql += " AND c.designer_id = %s"
        customer_params.append(scope.designer_id)
    follow_up_join = ""
    if customer_sql:  # the customer row only when a filter needs it
        follow_up_join = "JOIN customers_customer c ON c.id = f.customer_id AND c.tenant_id = f.tenant_id"
    # Raw SQL is not scoped by the tenant manager: the tenant condition is explicit (RLS also applies).
    sql = f"""
        SELECT 'new', c.owner_id, COUNT(*), 0 FROM customers_customer c
        WHERE c.tenant_id = %s AND c.owner_id {users}
          AND c.created_at >= %s AND c.created_at < %s{customer_sql}
        GROUP BY c.owner_id
        UNION ALL
        SELECT 'measured', c.owner_id, COUNT(*), 0 FROM customers_customer c
        WHERE c.tenant_id = %s AND c.owner_id {users}
          AND c.measured_at >= %s AND c.measured_at < %s{customer_sql}
        GROUP BY c.owner_id
        UNION ALL
        SELECT 'follow_ups', f.author_id, COUNT(*), 0 FROM customers_followup f {follow_up_join}
        WHERE f.tenant_id = %s AND f.author_id {users} AND f.kind IN ({", ".join(["%s"] * len(kinds))})
          AND f.occurred_at >= %s AND f.occurred_at < %s{customer_sql}
        GROUP BY f.author_id
        UNION ALL
        SELECT 'signed', c.owner_id, COUNT(*), COALESCE(SUM(p.contract_amount_fen), 0) FROM projects_project p
        JOIN customers_customer c ON c.id = p.customer_id AND c.tenant_id = p.tenant_id
        WHERE p.tenant_id = %s AND c.owner_id {users} AND p.signed_on >= %s AND p.signed_on < %s
          AND p.cancelled_at IS NULL{customer_sql}
        GROUP BY c.owner_id
    """
    tenant_id = scope.tenant.pk
    params: list[Any] = [
        *(tenant_id, *ids, start_at, end_at, *customer_params),
        *(tenant_id, *ids, start_at, end_at, *customer_params),
        *(tenant_id, *ids, *kinds, start_at, end_at, *customer_params),
        *(tenant_id, *ids, start, end, *customer_params),
    ]
    counts: dict[str, dict] = {"new": {}, "measured": {}, "follow_ups": {}, "signed": {}}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for kind, user_id, n, value in cursor.fetchall():
            counts[kind][user_id] = {"n": n, "value": int(value)} if kind == "signed" else n
    return counts["new"], counts["measured"], counts["follow_ups"], counts["signed"]


def sales_panel(scope: Scope) -> dict:
    period = scope.period
    users = staff_of_tenant(tenant=scope.tenant, duty=SELLS)
    if scope.sales_id:
        users = [user for user in users if user.pk == scope.sales_id] or list(
            User.objects.filter(tenant=scope.tenant, pk=scope.sales_id)
        )
    ids = [user.pk for user in users]
    new_customers, measured, follow_ups, signed = _activity_counts(scope, ids)
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
