"""The monthly management report: every panel for one calendar month in one Excel workbook,
stored as a tenant-owned row + file and announced to the managers (e-mail via crm.notifications).

Exactly once per (tenant, month): the row is unique and locked while the file is written, so a
duplicated beat or a retried task finds the finished report and does nothing.
"""

from __future__ import annotations

import datetime

from django.core.files.base import ContentFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from analytics import selectors
from analytics.exports import report_workbook
from analytics.models import MonthlyReport
from analytics.periods import Period, previous_period
from analytics.scope import Scope
from crm.models import Tenant, User
from crm.notifications.services import notify
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant


def month_scope(*, tenant: Tenant, month: datetime.date, now: datetime.datetime | None = None) -> Scope:
    """The whole company (no role restriction) for one calendar month of the tenant's time zone."""
    next_month = (month + datetime.timedelta(days=32)).replace(day=1)
    period = Period(month, next_month, tenant.zoneinfo, "last_month")
    return Scope(tenant=tenant, period=period, previous=previous_period(period), now=now)


def previous_month(local_day: datetime.date) -> datetime.date:
    return (local_day.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


def monthly_report_generate(
    *, tenant: Tenant, month: datetime.date, now: datetime.datetime | None = None
) -> MonthlyReport:
    """Build, store and announce ``month``'s report unless it exists already (idempotent)."""
    if month.day != 1:
        raise ValueError("month must be the first day of a month")
    with transaction.atomic():
        MonthlyReport.objects.get_or_create(tenant=tenant, month=month)
        report = MonthlyReport.objects.select_for_update().get(month=month)
        if not report.file:
            scope = month_scope(tenant=tenant, month=month, now=now)
            panels = [selectors.panel_data(key, scope) for key in selectors.PANELS]
            content = report_workbook(panels, title=_("%(month)s 月度经营报告") % {"month": f"{month:%Y-%m}"})
            report.file.save(f"report-{tenant.pk}-{month:%Y-%m}.xlsx", ContentFile(content), save=False)
            report.generated_at = timezone.now()
            report.save(update_fields=["file", "generated_at"])
        if report.notified_at is None:
            managers: list[User] = staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)
            notify(
                tenant=tenant,
                recipients=managers,
                kind="analytics_monthly_report",
                title=_("%(month)s 月度经营报告已生成") % {"month": f"{month:%Y-%m}"},
                body=_(
                    "各项经营指标（销售漏斗、响应、业绩、项目、售后、转介绍、满意度、客户价值）见附件下载链接。"
                ),
                link=reverse("analytics:report", args=[report.pk]),
                dedupe_key=f"analytics-monthly-report:{month:%Y-%m}",
            )
            report.notified_at = timezone.now()
            report.save(update_fields=["notified_at"])
    return report
