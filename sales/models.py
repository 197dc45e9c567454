"""Sales work: appointments with a customer (量房, 到店 …) and to-do tasks on a customer or project."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class AppointmentKind(models.TextChoices):
    MEASURE = "measure", _("量房")
    STORE_VISIT = "store_visit", _("到店")
    PRESENTATION = "presentation", _("方案讲解")
    SIGNING = "signing", _("签约")
    HANDOVER_BRIEFING = "handover_briefing", _("交底")
    ACCEPTANCE = "acceptance", _("验收")
    FOLLOW_UP_VISIT = "follow_up_visit", _("回访")


class AppointmentStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("已预约")
    DONE = "done", _("已完成")
    NO_SHOW = "no_show", _("客户爽约")
    CANCELLED = "cancelled", _("已取消")


class Appointment(TenantOwnedModel):
    """A meeting with a customer at a place and time; ``staff`` leads it, ``participants`` join.

    ``remind_at`` is scanned by a beat job (never an ETA task); ``reminded_at`` is set in the same
    transaction as the notification, so a reminder goes out once per scheduled time.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("项目"),
    )
    kind = models.CharField(_("类型"), max_length=32, choices=AppointmentKind.choices)
    place = models.CharField(_("地点"), max_length=200)
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("负责人")
    )
    participants = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="AppointmentParticipant",
        blank=True,
        related_name="+",
        verbose_name=_("同行人员"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=AppointmentStatus.choices, default=AppointmentStatus.SCHEDULED
    )
    note = models.CharField(_("备注"), max_length=500, blank=True)
    outcome = models.CharField(_("结果"), max_length=500, blank=True)
    remind_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("已提醒时间"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(_("结束处理时间"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("预约")
        verbose_name_plural = _("预约")
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="sales_appointment_ends_after_start"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "staff", "starts_at"], name="sales_appt_staff_time"),
            models.Index(fields=["tenant", "customer", "starts_at"], name="sales_appt_customer_time"),
            models.Index(
                fields=["tenant", "remind_at"],
                condition=Q(reminded_at__isnull=True, status="scheduled", remind_at__isnull=False),
                name="sales_appt_reminder_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.starts_at:%Y-%m-%d %H:%M}"


class AppointmentParticipant(TenantOwnedModel):
    """Who joins an appointment besides its lead (tenant-owned, so RLS covers the link rows too)."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("同行人员")
        verbose_name_plural = _("同行人员")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "appointment", "user"], name="sales_participant_once")
        ]


class AppointmentChange(TenantOwnedModel):
    """Reschedule history: who moved the appointment when, from which time to which."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(_("改约时间"))
    from_starts_at = models.DateTimeField(_("原开始时间"))
    from_ends_at = models.DateTimeField(_("原结束时间"))
    to_starts_at = models.DateTimeField(_("新开始时间"))
    to_ends_at = models.DateTimeField(_("新结束时间"))
    reason = models.CharField(_("原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("改约记录")
        verbose_name_plural = _("改约记录")
        ordering = ["changed_at", "id"]


class TaskKind(models.TextChoices):
    TODO = "todo", _("待办")
    FOLLOW_UP = "follow_up", _("下次跟进")


class Task(TenantOwnedModel):
    """A to-do on a customer (and optionally one of its projects) with a due time and an assignee.

    A follow-up's "next follow-up time" is a task too (``kind=follow_up``, at most one open per
    customer, kept in step with the customer's plan by ``follow_up_task_sync``). ``remind_at`` is
    scanned by a beat job; ``reminded_at`` is set in the transaction that queues the notification.
    """

    kind = models.CharField(_("类型"), max_length=16, choices=TaskKind.choices, default=TaskKind.TODO)
    follow_up = models.ForeignKey(
        "customers.FollowUp",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("来源跟进"),
    )

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("项目"),
    )
    title = models.CharField(_("事项"), max_length=200)
    note = models.CharField(_("说明"), max_length=500, blank=True)
    due_at = models.DateTimeField(_("截止时间"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("负责人")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(_("完成时间"), null=True, blank=True, editable=False)
    remind_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("已提醒时间"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("待办")
        verbose_name_plural = _("待办")
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "assignee", "due_at"],
                condition=Q(done_at__isnull=True),
                name="sales_task_open_due",
            ),
            models.Index(fields=["tenant", "customer"], name="sales_task_customer"),
            models.Index(
                fields=["tenant", "remind_at"],
                condition=Q(reminded_at__isnull=True, done_at__isnull=True, remind_at__isnull=False),
                name="sales_task_reminder_due",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "customer"],
                condition=Q(kind="follow_up", done_at__isnull=True),
                name="sales_task_one_open_follow_up",
            )
        ]

    def __str__(self) -> str:
        return self.title
