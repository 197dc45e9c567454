"""Panel 6: referrals and loyalty — how much new business comes from customers' referrals, what
the referral fund owes, VIPs, and customers who buy again.

Definitions (see docs/metrics.md); filters: channel and sales apply to the (referred / signing)
customer, designer and project manager to the project.
- **转介绍占比**: contracts signed in the period (``signed_on``, not cancelled) whose customer was
  referred (has a ``Referral`` as the referred) ÷ all those contracts. Monthly for the 12 months
  ending with the period.
- **Credited referrals**: referrals credited in the period (``credited_at``); **credit paid**: the
  credit ledger entries of the period (fen, shown in 元).
- **Outstanding fund balance** (now): sum of the accounts' cached balances (fen) — what customers
  can still redeem. **VIPs** (now): accounts with VIP status.
- **Repeat-purchase rate**: of the customers who signed a contract in the period, the share who
  had signed an earlier one (not cancelled).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from analytics.scope import Scope
from analytics.selectors.common import (
    chart,
    column,
    kpi,
    month_starts,
    panel,
    project_filter_params,
    projects_url,
    ratio,
    related_filters,
    row,
    table,
)
from projects.models import Project
from referrals.models import EntryKind, LedgerEntry, Referral, ReferralAccount, ReferralStatus

if TYPE_CHECKING:
    from django.db.models import QuerySet


def _signed_projects(scope: Scope) -> QuerySet[Project]:
    referred = Referral.objects.filter(referred_id=OuterRef("customer_id"))
    earlier = Project.objects.filter(
        customer_id=OuterRef("customer_id"),
        signed_on__isnull=False,
        cancelled_at__isnull=True,
        signed_on__lt=OuterRef("signed_on"),
    )
    return Project.objects.filter(
        signed_on__isnull=False, cancelled_at__isnull=True, **related_filters(scope, project="")
    ).annotate(is_referred=Exists(referred), is_repeat=Exists(earlier))


def referrals_panel(scope: Scope) -> dict:
    period, previous = scope.period, scope.previous
    projects = _signed_projects(scope)
    in_period = Q(signed_on__gte=period.start, signed_on__lt=period.end)
    in_previous = Q(signed_on__gte=previous.start, signed_on__lt=previous.end)
    contracts = projects.filter(
        signed_on__gte=min(previous.start, period.start), signed_on__lt=period.end
    ).aggregate(
        signed=Count("id", filter=in_period),
        referred=Count("id", filter=in_period & Q(is_referred=True)),
        signed_prev=Count("id", filter=in_previous),
        referred_prev=Count("id", filter=in_previous & Q(is_referred=True)),
        customers=Count("customer_id", filter=in_period, distinct=True),
        repeat_customers=Count("customer_id", filter=in_period & Q(is_repeat=True), distinct=True),
    )
    months = month_starts(period)
    trend = {
        item["month"]: item
        for item in projects.filter(signed_on__gte=months[0], signed_on__lt=period.end)
        .annotate(month=TruncMonth("signed_on"))
        .values("month")
        .annotate(signed=Count("id"), referred=Count("id", filter=Q(is_referred=True)))
    }
    trend_rows = []
    for month in months:
        item: Mapping[str, Any] = trend.get(month, {})
        signed, referred = item.get("signed", 0), item.get("referred", 0)
        trend_rows.append(
            row(
                month.isoformat(),
                f"{month:%Y-%m}",
                {"signed": signed, "referred": referred, "share": ratio(referred, signed)},
            )
        )
    referral_conditions = related_filters(scope, customer="referred__", project=None)
    credited = Referral.objects.filter(
        status=ReferralStatus.CREDITED,
        credited_at__gte=period.start_at,
        credited_at__lt=period.end_at,
        **referral_conditions,
    ).count()
    credit_fen = (
        LedgerEntry.objects.filter(
            kind=EntryKind.CREDIT,
            created_at__gte=period.start_at,
            created_at__lt=period.end_at,
            **related_filters(scope, customer="referral__referred__", project=None),
        ).aggregate(total=Sum("amount_fen"))["total"]
        or 0
    )
    accounts = ReferralAccount.objects.filter(**related_filters(scope, project=None))
    fund = accounts.aggregate(balance=Sum("balance_fen"), vips=Count("id", filter=Q(is_vip=True)))
    leaders = list(
        accounts.filter(credited_referrals__gt=0)
        .order_by("-credited_referrals", "-balance_fen", "id")
        .values("id", "customer__name", "credited_referrals", "balance_fen", "is_vip")[:10]
    )
    signed_link = projects_url(
        **project_filter_params(scope),
        signed_after=period.start.isoformat(),
        signed_before=period.last_day.isoformat(),
    )
    return panel(
        "referrals",
        _("转介绍与忠诚度"),
        scope,
        kpis=[
            kpi(
                "referral_share",
                _("转介绍占比"),
                ratio(contracts["referred"], contracts["signed"]),
                ratio(contracts["referred_prev"], contracts["signed_prev"]),
                "percent",
            ),
            kpi("signed", _("新签合同"), contracts["signed"], contracts["signed_prev"], link=signed_link),
            kpi("credited", _("期内奖励的转介绍"), credited),
            kpi("credit_paid", _("期内奖励金额（元）"), credit_fen, kind="money"),
            kpi("fund_balance", _("推荐基金余额（元）"), fund["balance"] or 0, kind="money"),
            kpi("vips", _("VIP 客户"), fund["vips"]),
            kpi(
                "repeat_rate",
                _("复购率"),
                ratio(contracts["repeat_customers"], contracts["customers"]),
                kind="percent",
            ),
        ],
        tables=[
            table(
                "monthly",
                _("近 12 个月转介绍占比"),
                [
                    column("signed", _("新签合同")),
                    column("referred", _("转介绍签约")),
                    column("share", _("转介绍占比"), "percent"),
                ],
                trend_rows,
            ),
            table(
                "leaders",
                _("推荐人排行"),
                [
                    column("credited_referrals", _("成功转介绍")),
                    column("balance", _("基金余额（元）"), "money"),
                    column("vip", _("VIP"), "text"),
                ],
                [
                    row(
                        item["id"],
                        item["customer__name"],
                        {
                            "credited_referrals": item["credited_referrals"],
                            "balance": item["balance_fen"],
                            "vip": "VIP" if item["is_vip"] else "",
                        },
                        {"credited_referrals": reverse("referrals:account", args=[item["id"]])},
                    )
                    for item in leaders
                ],
            ),
        ],
        charts=[
            chart("monthly", "bar", "monthly", ["signed", "referred"], _("新签合同与转介绍签约")),
            chart("share", "line", "monthly", ["share"], _("转介绍占比（%）")),
        ],
        notes=[
            _("转介绍占比：期内签约（未取消）的合同中，客户为被推荐客户的比例。"),
            _("基金余额与 VIP 为实时数据；复购率：期内签约客户中此前已有签约合同的比例。"),
            _("推荐人排行的链接打开推荐人的账户明细。"),
        ],
    )
