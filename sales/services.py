"""Writes of appointments and tasks: every rule here, each in one transaction (nothing half-written).

Overlap is a race: two bookings for one person checked at the same time would both pass. Every
write that sets an appointment's time or people first locks the staff users' rows
(``SELECT … FOR UPDATE``, ascending ids), so bookings of one person run one after the other.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.notifications.services import notify
from customers.models import Customer, FollowUp
from customers.services.settings import business_calendar_for
from projects.models import Project
from sales.models import Appointment, AppointmentChange, AppointmentStatus, Task, TaskKind

DEFAULT_REMIND_BEFORE = datetime.timedelta(hours=1)
BLOCKING_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.DONE)


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def _remind_at(
    *, tenant: Tenant, starts_at: datetime.datetime, remind_before: datetime.timedelta
) -> datetime.datetime:
    """The reminder's lead time counts working days only: a "one day before" reminder for the morning
    after a holiday goes out on the last working day, never on the holiday."""
    calendar = business_calendar_for(tenant=tenant, around=starts_at).whole_days()
    return calendar.subtract_minutes(starts_at, round(remind_before.total_seconds() / 60))


def _check_belongs(*, tenant: Tenant, customer: Customer, project: Project | None) -> None:
    if customer.tenant_id != tenant.pk:
        raise _error("customer", _("客户不存在。"), "does_not_exist")
    if project is not None and (project.tenant_id != tenant.pk or project.customer_id != customer.pk):
        raise _error("project", _("项目不属于该客户。"), "project_not_of_customer")


def _check_staff(*, tenant: Tenant, users: Iterable[User], field: str) -> None:
    for user in users:
        if user.tenant_id != tenant.pk or not user.is_active:
            raise _error(field, _("员工不存在或已停用。"), "invalid_staff")


def _check_window(
    *, starts_at: datetime.datetime, ends_at: datetime.datetime, now: datetime.datetime
) -> None:
    if starts_at < now:
        raise _error("starts_at", _("预约时间不能早于现在。"), "in_past")
    if ends_at <= starts_at:
        raise _error("ends_at", _("结束时间必须晚于开始时间。"), "ends_before_start")


def _lock_and_check_overlap(
    *,
    staff_ids: set[int],
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    exclude_pk: int | None = None,
) -> None:
    """Serialise bookings per person (row lock on the users) and refuse a clash with any of them."""
    list(
        User.objects.select_for_update().filter(pk__in=staff_ids).order_by("pk").values_list("pk", flat=True)
    )
    clash = (
        Appointment.objects.filter(status__in=BLOCKING_STATUSES, starts_at__lt=ends_at, ends_at__gt=starts_at)
        .filter(Q(staff_id__in=staff_ids) | Q(participants__in=staff_ids))
        .exclude(pk=exclude_pk)
        .order_by("starts_at")
        .first()
    )
    if clash is not None:
        local = timezone.localtime(clash.starts_at)
        raise _error(
            "starts_at",
            _("该时间段与已有预约冲突（%(kind)s %(time)s）。")
            % {"kind": clash.get_kind_display(), "time": f"{local:%m-%d %H:%M}"},
            "overlap",
        )


def appointment_create(
    *,
    tenant: Tenant,
    actor: User,
    customer: Customer,
    kind: str,
    place: str,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    staff: User,
    participants: Iterable[User] = (),
    project: Project | None = None,
    note: str = "",
    remind_before: datetime.timedelta = DEFAULT_REMIND_BEFORE,
) -> Appointment:
    """Book an appointment; refused in the past, ending before it starts, or clashing for anyone on it."""
    participants = [user for user in participants if user.pk != staff.pk]
    _check_belongs(tenant=tenant, customer=customer, project=project)
    _check_staff(tenant=tenant, users=[staff], field="staff")
    _check_staff(tenant=tenant, users=participants, field="participants")
    _check_window(starts_at=starts_at, ends_at=ends_at, now=timezone.now())
    with transaction.atomic():
        _lock_and_check_overlap(
            staff_ids={staff.pk, *(user.pk for user in participants)}, starts_at=starts_at, ends_at=ends_at
        )
        appointment = Appointment.objects.create(
            tenant=tenant,
            customer=customer,
            project=project,
            kind=kind,
            place=place,
            starts_at=starts_at,
            ends_at=ends_at,
            staff=staff,
            note=note,
            remind_at=_remind_at(tenant=tenant, starts_at=starts_at, remind_before=remind_before),
            created_by=actor,
        )
        appointment.participants.set(participants, through_defaults={"tenant": tenant})
    return appointment


def _lock(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update(of=("self",)).get(pk=appointment.pk)


def _require_scheduled(appointment: Appointment) -> None:
    if appointment.status != AppointmentStatus.SCHEDULED:
        raise _error(
            "status",
            _("预约已%(status)s，不能再修改。") % {"status": appointment.get_status_display()},
            "closed",
        )


def appointment_reschedule(
    *,
    tenant: Tenant,
    actor: User,
    appointment: Appointment,
    starts_at: datetime.datetime,
    ends_at: datetime.datetime,
    reason: str = "",
) -> Appointment:
    """Move a scheduled appointment; the move is recorded and the reminder re-armed for the new time."""
    _require_scheduled(appointment)
    _check_window(starts_at=starts_at, ends_at=ends_at, now=timezone.now())
    with transaction.atomic():
        staff_ids = {appointment.staff_id, *appointment.participants.values_list("pk", flat=True)}
        _lock_and_check_overlap(
            staff_ids=staff_ids, starts_at=starts_at, ends_at=ends_at, exclude_pk=appointment.pk
        )
        appointment = _lock(appointment)
        _require_scheduled(appointment)
        remind_before = (
            appointment.starts_at - appointment.remind_at if appointment.remind_at else DEFAULT_REMIND_BEFORE
        )
        AppointmentChange.objects.create(
            tenant=tenant,
            appointment=appointment,
            changed_by=actor,
            changed_at=timezone.now(),
            from_starts_at=appointment.starts_at,
            from_ends_at=appointment.ends_at,
            to_starts_at=starts_at,
            to_ends_at=ends_at,
            reason=reason,
        )
        appointment.starts_at = starts_at
        appointment.ends_at = ends_at
        appointment.remind_at = _remind_at(tenant=tenant, starts_at=starts_at, remind_before=remind_before)
        appointment.reminded_at = None
        appointment.save(update_fields=["starts_at", "ends_at", "remind_at", "reminded_at"])
    return appointment


def _close(*, appointment: Appointment, status: str, outcome: str) -> Appointment:
    with transaction.atomic():
        appointment = _lock(appointment)
        _require_scheduled(appointment)
        if (
            status in (AppointmentStatus.DONE, AppointmentStatus.NO_SHOW)
            and appointment.starts_at > timezone.now()
        ):
            raise _error("status", _("预约时间未到，不能登记结果。"), "not_started")
        appointment.status = status
        appointment.outcome = outcome
        appointment.closed_at = timezone.now()
        appointment.save(update_fields=["status", "outcome", "closed_at"])
    return appointment


def appointment_complete(
    *,
    tenant: Tenant,
    actor: User,  # noqa: ARG001 - callers name who closed it; no closed_by column yet
    appointment: Appointment,
    outcome: str = "",
) -> Appointment:
    return _close(appointment=appointment, status=AppointmentStatus.DONE, outcome=outcome)


def appointment_mark_no_show(
    *,
    tenant: Tenant,
    actor: User,  # noqa: ARG001 - callers name who closed it; no closed_by column yet
    appointment: Appointment,
    outcome: str = "",
) -> Appointment:
    """The customer did not come: recorded, and the slot no longer blocks the staff's calendar."""
    return _close(appointment=appointment, status=AppointmentStatus.NO_SHOW, outcome=outcome)


def appointment_cancel(
    *,
    tenant: Tenant,
    actor: User,  # noqa: ARG001 - callers name who closed it; no closed_by column yet
    appointment: Appointment,
    outcome: str = "",
) -> Appointment:
    return _close(appointment=appointment, status=AppointmentStatus.CANCELLED, outcome=outcome)


def appointment_reminders_send_due(
    *, tenant: Tenant, now: datetime.datetime | None = None, limit: int = 500
) -> int:
    """Remind the staff of due appointments, once per scheduled time.

    Rows are claimed with ``SKIP LOCKED`` and ``reminded_at`` is set in the transaction that queues
    the notification, so two scans running together (duplicate beat) split the rows, and a second scan
    finds nothing; the ``dedupe_key`` carries the start time, so a reschedule earns a new reminder.
    """
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            Appointment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                tenant=tenant,
                status=AppointmentStatus.SCHEDULED,
                reminded_at__isnull=True,
                remind_at__isnull=False,
                remind_at__lte=now,
            )
            .select_related("customer", "staff")
            .order_by("remind_at")[:limit]
        )
        for appointment in due:
            appointment.reminded_at = now
            appointment.save(update_fields=["reminded_at"])
            recipients = [appointment.staff, *appointment.participants.all()]
            local = timezone.localtime(appointment.starts_at)
            notify(
                tenant=tenant,
                recipients=recipients,
                kind="appointment_reminder",
                title=_("预约提醒：%(kind)s · %(customer)s")
                % {"kind": appointment.get_kind_display(), "customer": appointment.customer.name},
                body=_("%(time)s 在 %(place)s。")
                % {"time": f"{local:%m-%d %H:%M}", "place": appointment.place},
                link=reverse("sales:calendar")
                + f"?date={local:%Y-%m-%d}&view=day&staff={appointment.staff_id}",
                dedupe_key=f"appointment-reminder:{appointment.pk}:{appointment.starts_at.timestamp():.0f}",
            )
            sent += 1
    return sent


def task_create(
    *,
    tenant: Tenant,
    actor: User | None,
    customer: Customer,
    title: str,
    due_at: datetime.datetime,
    assignee: User,
    project: Project | None = None,
    note: str = "",
) -> Task:
    """``actor`` None: the system created it (e.g. an engagement push for the customer's owner)."""
    _check_belongs(tenant=tenant, customer=customer, project=project)
    _check_staff(tenant=tenant, users=[assignee], field="assignee")
    if not title.strip():
        raise _error("title", _("请填写事项。"), "required")
    with transaction.atomic():
        return Task.objects.create(
            tenant=tenant,
            customer=customer,
            project=project,
            title=title.strip(),
            note=note,
            due_at=due_at,
            assignee=assignee,
            created_by=actor,
            remind_at=due_at,
        )


def task_complete(
    *,
    tenant: Tenant,
    actor: User,  # noqa: ARG001 - callers name who completed it; no completed_by column yet
    task: Task,
) -> Task:
    """Mark done once; completing a done task again keeps the first time (idempotent)."""
    with transaction.atomic():
        task = Task.objects.select_for_update(of=("self",)).get(pk=task.pk)
        if task.done_at is None:
            task.done_at = timezone.now()
            task.save(update_fields=["done_at"])
    return task


def task_reassign(*, tenant: Tenant, actor: User, task: Task, assignee: User) -> Task:  # noqa: ARG001
    """Hand an open task to another active colleague; a done task stays with whoever did it."""
    _check_staff(tenant=tenant, users=[assignee], field="assignee")
    with transaction.atomic():
        task = Task.objects.select_for_update(of=("self",)).get(pk=task.pk)
        if task.done_at is not None:
            raise _error("assignee", _("待办已完成，不能再转交。"), "closed")
        if task.assignee_id != assignee.pk:
            task.assignee = assignee
            task.save(update_fields=["assignee"])
    return task


FOLLOW_UP_TASK_TITLE = "下次跟进"


def follow_up_task_sync(*, tenant: Tenant, customer_id: int) -> Task | None:
    """Keep the customer's one open follow-up task in step with its planned next follow-up.

    State-based (the customer's ``next_follow_up_at`` decides), so running it twice, late or out of
    order gives the same result: a plan opens or moves the task (assigned to the owner, or with no
    active owner to the author who planned it; a moved time re-arms the reminder), no plan — a touch
    after the planned time — closes it.
    """
    with transaction.atomic():
        customer = (
            Customer.objects.select_for_update(of=("self",))
            .select_related("owner")
            .filter(pk=customer_id, tenant=tenant)
            .first()
        )
        if customer is None:
            return None
        task = (
            Task.objects.select_for_update(of=("self",))
            .filter(customer=customer, kind=TaskKind.FOLLOW_UP, done_at__isnull=True)
            .first()
        )
        plan = customer.next_follow_up_at
        if plan is None:
            if task is not None:
                task.done_at = timezone.now()
                task.save(update_fields=["done_at"])
            return task
        source = (
            FollowUp.objects.filter(customer=customer, next_follow_up_at=plan)
            .select_related("author")
            .order_by("-occurred_at", "-id")
            .first()
        )
        owner = customer.owner if customer.owner is not None and customer.owner.is_active else None
        author = source.author if source is not None and source.author and source.author.is_active else None
        assignee = owner or author
        if assignee is None:
            return task
        note = (source.content[:200] if source is not None else "").strip()
        if task is None:
            return Task.objects.create(
                tenant=tenant,
                customer=customer,
                kind=TaskKind.FOLLOW_UP,
                follow_up=source,
                title=FOLLOW_UP_TASK_TITLE,
                note=note,
                due_at=plan,
                assignee=assignee,
                created_by=source.author if source is not None else None,
                remind_at=plan,
            )
        changed = []
        if task.due_at != plan:
            task.due_at, task.remind_at, task.reminded_at = plan, plan, None
            changed += ["due_at", "remind_at", "reminded_at"]
        if source is not None and task.follow_up_id != source.pk:
            task.follow_up, task.note = source, note
            changed += ["follow_up", "note"]
        if task.assignee_id != assignee.pk:
            task.assignee = assignee
            changed.append("assignee")
        if changed:
            task.save(update_fields=changed)
        return task


def task_reminders_send_due(*, tenant: Tenant, now: datetime.datetime | None = None, limit: int = 500) -> int:
    """Remind assignees of open tasks at their reminder time, once each (``reminded_at`` marker).

    Follow-up tasks keep the follow-up reminder's shape (kind ``follow_up_due``, a link to the
    customer, one per planning follow-up). Rows are claimed with ``SKIP LOCKED``, so overlapping
    scans split the work and a second scan finds nothing.
    """
    now = now or timezone.now()
    sent = 0
    with transaction.atomic():
        due = list(
            Task.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                tenant=tenant,
                done_at__isnull=True,
                reminded_at__isnull=True,
                remind_at__isnull=False,
                remind_at__lte=now,
            )
            .select_related("customer", "assignee", "follow_up")
            .order_by("remind_at")[:limit]
        )
        for task in due:
            task.reminded_at = now
            task.save(update_fields=["reminded_at"])
            if not task.assignee.is_active:
                continue
            local = timezone.localtime(task.due_at)
            if task.kind == TaskKind.FOLLOW_UP:
                last = f"{_('上次：')}{task.follow_up.content[:60]}" if task.follow_up else ""
                notify(
                    tenant=tenant,
                    recipients=[task.assignee],
                    kind="follow_up_due",
                    title=_("跟进提醒：%(customer)s") % {"customer": task.customer.name},
                    body=_("计划于 %(time)s 再次跟进。") % {"time": f"{local:%m-%d %H:%M}"} + last,
                    link=reverse("customers:detail", args=[task.customer_id]),
                    dedupe_key=f"follow-up-due:{task.follow_up_id}"
                    if task.follow_up_id
                    else f"follow-up-due:task-{task.pk}:{task.due_at.timestamp():.0f}",
                )
            else:
                notify(
                    tenant=tenant,
                    recipients=[task.assignee],
                    kind="task_due",
                    title=_("待办到期：%(title)s · %(customer)s")
                    % {"title": task.title, "customer": task.customer.name},
                    body=_("截止 %(time)s。") % {"time": f"{local:%m-%d %H:%M}"},
                    link=reverse("sales:tasks"),
                    dedupe_key=f"task-due:{task.pk}:{task.due_at.timestamp():.0f}",
                )
            sent += 1
    return sent
