"""What managers enter for the analytics: monthly sales targets and channel spend."""

from __future__ import annotations

import calendar
import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from customers.models import SourceChannel


def _overlap_fraction(month: datetime.date, start: datetime.date, end: datetime.date) -> float:
    """Share of ``month`` (first day) inside ``[start, end)``: monthly figures prorate by days."""
    days_in_month = calendar.monthrange(month.year, month.month)[1]
    month_end = month + datetime.timedelta(days=days_in_month)
    overlap = (min(end, month_end) - max(start, month)).days
    return max(0, overlap) / days_in_month


class SalesTarget(TenantOwnedModel):
    """A month's target for one sales user, or for the whole team when ``user`` is empty.

    Set by managers. For a period that is not one calendar month the target is prorated by days.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("销售"),
        help_text=_("留空表示团队目标"),
    )
    month = models.DateField(_("月份"), help_text=_("该月第一天"))
    contract_value_fen = models.PositiveBigIntegerField(_("签约额目标（分）"), default=0)
    signed_count = models.PositiveIntegerField(_("签约单数目标"), default=0)
    new_customers = models.PositiveIntegerField(_("新客户目标"), default=0)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("更新人"),
    )
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("销售目标")
        verbose_name_plural = _("销售目标")
        ordering = ["-month", "user_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "user", "month"],
                condition=models.Q(user__isnull=False),
                name="analytics_target_user_month_uniq",
            ),
            models.UniqueConstraint(
                fields=["tenant", "month"],
                condition=models.Q(user__isnull=True),
                name="analytics_target_team_month_uniq",
            ),
            models.CheckConstraint(condition=models.Q(month__day=1), name="analytics_target_month_first_day"),
        ]
        indexes = [models.Index(fields=["tenant", "month"], name="analytics_target_month_idx")]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.user or _('团队')}"


class ChannelSpend(TenantOwnedModel):
    """Money spent on one lead channel in one month (for cost per signed customer)."""

    channel = models.CharField(_("渠道"), max_length=32, choices=SourceChannel.choices)
    month = models.DateField(_("月份"), help_text=_("该月第一天"))
    amount_fen = models.PositiveBigIntegerField(_("投放金额（分）"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("更新时间"))

    class Meta:
        verbose_name = _("渠道投放")
        verbose_name_plural = _("渠道投放")
        ordering = ["-month", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "channel", "month"], name="analytics_spend_uniq"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="analytics_spend_month_first_day"),
        ]

    @classmethod
    def spend_by_channel(cls, *, period) -> dict[str, int]:
        """Spend per channel (fen) prorated to the period (few rows: one per channel and month)."""
        first = period.start.replace(day=1)
        totals: dict[str, float] = {}
        for channel, month, amount_fen in cls.objects.filter(
            month__gte=first, month__lt=period.end
        ).values_list("channel", "month", "amount_fen"):
            totals[channel] = totals.get(channel, 0) + amount_fen * _overlap_fraction(
                month, period.start, period.end
            )
        return {channel: round(value) for channel, value in totals.items()}


class MonthlyReport(TenantOwnedModel):
    """The monthly management report of one month: generated once (unique per tenant and month)
    by the beat job on the 1st, stored, and e-mailed to managers."""

    month = models.DateField(_("月份"), help_text=_("该月第一天"))
    file = models.FileField(_("文件"), upload_to="analytics/reports/%Y/", max_length=200, blank=True)
    generated_at = models.DateTimeField(_("生成时间"), null=True, blank=True)
    notified_at = models.DateTimeField(_("通知时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("月度经营报告")
        verbose_name_plural = _("月度经营报告")
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="analytics_report_month_uniq"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="analytics_report_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m}"


class CustomerMilestone(TenantOwnedModel):
    """One row per customer: the sales funnel's inputs, derived from the source tables.

    Never written by Python: database triggers on customers, follow-ups, projects and stage history
    keep it equal to its definition (``analytics.milestones``), which ``rebuild_milestones`` can
    re-apply or check. ``furthest_step`` indexes ``analytics.milestones.STEPS`` (0 = inquiry …
    6 = handed over, the same conditions as ``customers.selectors.funnel_reached_q``); the ``*_at``
    columns are the first time the customer reached each step (first human follow-up, 量房, first
    entry of a project into 设计/报价/签约/交付).
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    # the cohort's columns, copied from the customer
    inquiry_at = models.DateTimeField()
    source_channel = models.CharField(max_length=32)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    designer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        null=True,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    contract_total_fen = models.BigIntegerField(default=0)
    furthest_step = models.PositiveSmallIntegerField(default=0)
    responded_at = models.DateTimeField(null=True)
    measured_at = models.DateTimeField(null=True)
    design_at = models.DateTimeField(null=True)
    quoted_at = models.DateTimeField(null=True)
    signed_at = models.DateTimeField(null=True)
    handed_over_at = models.DateTimeField(null=True)

    class Meta:
        verbose_name = _("客户漏斗节点")
        verbose_name_plural = _("客户漏斗节点")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer"], name="analytics_milestone_customer_uniq"),
        ]
        indexes = [
            # the funnel's cohort: customers whose inquiry falls in a period, covering every column
            # the funnel reads, so its statements are index-only range scans (PostgreSQL)
            models.Index(
                fields=["tenant", "inquiry_at"],
                include=[
                    "furthest_step",
                    "source_channel",
                    "contract_total_fen",
                    "owner",
                    "designer",
                    "responded_at",
                    "measured_at",
                    "design_at",
                    "quoted_at",
                    "signed_at",
                    "handed_over_at",
                ],
                name="analytics_ms_cohort_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.furthest_step}"
