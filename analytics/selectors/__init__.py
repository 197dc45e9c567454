"""Analytics reads: one selector per panel, each returning the plain dict that the page, the Excel
export and ``/api/v1/analytics/<panel>/`` all show (see ``common`` for its shape)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from analytics.scope import Scope
from analytics.selectors.aftercare import aftercare_panel
from analytics.selectors.customer_value import customer_value_panel
from analytics.selectors.funnel import funnel_panel
from analytics.selectors.projects import projects_panel
from analytics.selectors.referrals import referrals_panel
from analytics.selectors.sales import sales_panel
from analytics.selectors.satisfaction import satisfaction_panel
from analytics.selectors.sla import sla_panel

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

PANELS: dict[str, tuple[StrOrPromise, Callable[[Scope], dict]]] = {
    "funnel": (_("销售漏斗"), funnel_panel),
    "sla": (_("首次响应 SLA"), sla_panel),
    "sales": (_("销售业绩"), sales_panel),
    "projects": (_("装修项目"), projects_panel),
    "aftercare": (_("售后服务"), aftercare_panel),
    "referrals": (_("转介绍与忠诚度"), referrals_panel),
    "satisfaction": (_("客户满意度"), satisfaction_panel),
    "customer_value": (_("客户价值"), customer_value_panel),
}


def panel_data(key: str, scope: Scope) -> dict:
    return PANELS[key][1](scope)


def dashboard_data(scope: Scope) -> list[dict]:
    return [selector(scope) for _title, selector in PANELS.values()]
