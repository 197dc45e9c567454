"""Days on which the weekly business hours do not apply: closed holidays and working weekends (调休)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class DayKind(models.TextChoices):
    CLOSED = "closed", _("休息（节假日、公司放假）")
    OPEN = "open", _("上班（调休工作日）")


class CalendarDay(TenantOwnedModel):
    """One date that overrides the weekly pattern: closed although a business weekday, or open on a weekend.

    Every business-hours clock (lead first-response SLA, pool deadline, ticket SLAs, appointment
    reminders) reads these through :class:`crm.workdays.business.BusinessCalendar`.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    date = models.DateField(_("日期"))
    kind = models.CharField(_("类型"), max_length=8, choices=DayKind.choices)
    name = models.CharField(_("名称"), max_length=50, blank=True, help_text=_("如：春节、国庆调休"))
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("日历例外日")
        verbose_name_plural = _("日历例外日")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["tenant", "date"], name="workdays_one_entry_per_date")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()} {self.name}".strip()
