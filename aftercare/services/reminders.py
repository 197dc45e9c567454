"""Reminders: decide exactly once in the database, then send (and escalate) after commit."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.models import (
    DispatchKind,
    MaintenancePlan,
    PlanStatus,
    ReminderDispatch,
)
from aftercare.services._common import _managers
from aftercare.services.dates import tenant_today
from aftercare.services.settings import aftercare_settings_get
from crm import events
from crm.models import Tenant, User
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant
from crm.tenancy import platform_scope

_DECIDE_SQL = """
INSERT INTO aftercare_reminderdispatch (tenant_id, plan_id, offset_days, kind, decided_at, sent_at,
                                        customer_sms_sent)
SELECT p.tenant_id, p.id, %(offset)s, %(kind)s, now(), NULL, false
FROM aftercare_maintenanceplan p
WHERE p.tenant_id = %(tenant)s AND p.status = 'scheduled' AND p.due_on BETWEEN %(low)s AND %(high)s
  AND (%(kind)s <> 'escalation' OR p.escalated_at IS NULL)
ON CONFLICT (tenant_id, plan_id, offset_days) DO NOTHING
RETURNING id
"""


def _reminder_windows(
    offsets: list[int], today: datetime.date
) -> list[tuple[int, datetime.date, datetime.date]]:
    """Each offset fires for plans due exactly ``offset`` days ahead, catching up a few missed days
    but never reaching into the next (smaller) offset's window."""
    windows = []
    ordered = sorted(offsets, reverse=True)
    for index, offset in enumerate(ordered):
        smaller = ordered[index + 1] if index + 1 < len(ordered) else 0
        low = max(offset - 3, smaller + 1)
        windows.append(
            (offset, today + datetime.timedelta(days=low), today + datetime.timedelta(days=offset))
        )
    return windows


def _decide(*, tenant: Tenant, offset: int, kind: str, low: datetime.date, high: datetime.date) -> list[int]:
    """Insert the dispatch rows; an escalation skips plans already escalated (once per plan, even
    after the tenant changes the escalation delay and so the offset in the unique key)."""
    if connection.vendor != "postgresql":
        return _decide_portable(tenant=tenant, offset=offset, kind=kind, low=low, high=high)
    with connection.cursor() as cursor:
        cursor.execute(
            _DECIDE_SQL, {"offset": offset, "kind": kind, "tenant": tenant.pk, "low": low, "high": high}
        )
        return [row[0] for row in cursor.fetchall()]


def _decide_portable(
    *, tenant: Tenant, offset: int, kind: str, low: datetime.date, high: datetime.date
) -> list[int]:
    """SQLite demo path: same unique constraint, row by row."""
    ids = []
    plans = MaintenancePlan.objects.filter(status=PlanStatus.SCHEDULED, due_on__range=(low, high))
    if kind == DispatchKind.ESCALATION:
        plans = plans.filter(escalated_at=None)  # once per plan, even if the delay setting changed
    for plan_id in plans.values_list("id", flat=True):
        try:
            with transaction.atomic():
                ids.append(
                    ReminderDispatch.objects.create(
                        tenant=tenant, plan_id=plan_id, offset_days=offset, kind=kind
                    ).pk
                )
        except IntegrityError:
            continue
    return ids


@transaction.atomic
def reminders_decide(*, tenant: Tenant, today: datetime.date | None = None) -> list[int]:
    """Decide today's reminders and escalations: one dispatch row per (plan, offset), inserted by one
    indexed range query per offset. The sends run after commit (``reminders_send_pending``)."""
    today = today or tenant_today(tenant)
    config = aftercare_settings_get(tenant=tenant)
    decided: list[int] = []
    for offset, low, high in _reminder_windows(config.offsets(), today):
        decided += _decide(tenant=tenant, offset=offset, kind=DispatchKind.REMINDER, low=low, high=high)
    overdue = config.escalation_days_overdue
    escalation_ids = _decide(
        tenant=tenant,
        offset=-overdue,
        kind=DispatchKind.ESCALATION,
        low=datetime.date(1900, 1, 1),
        high=today - datetime.timedelta(days=overdue),
    )
    if escalation_ids:
        MaintenancePlan.objects.filter(dispatches__id__in=escalation_ids).update(escalated_at=timezone.now())
    decided += escalation_ids
    if decided:
        from aftercare import tasks  # noqa: PLC0415 (tasks import services)

        transaction.on_commit(lambda: tasks.reminders_send.delay(tenant_id=tenant.pk))
    return decided


def reminders_send_pending(*, tenant: Tenant, batch_size: int = 200) -> int:
    """Send decided-but-unsent dispatches. Rows are claimed with SKIP LOCKED so two workers split
    them; each delivery carries a dedupe key, so a send retried after a crash is not repeated."""
    sent = 0
    while True:
        with transaction.atomic():
            batch = list(
                ReminderDispatch.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(sent_at=None)
                .select_related("plan__kind", "plan__customer", "plan__project", "plan__assigned_to")
                .order_by("id")[:batch_size]
            )
            if not batch:
                return sent
            managers = None
            for dispatch in batch:
                if dispatch.kind == DispatchKind.ESCALATION:
                    managers = (
                        managers
                        if managers is not None
                        else staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)
                    )
                    _deliver_escalation(tenant=tenant, dispatch=dispatch, managers=managers)
                else:
                    _deliver_reminder(tenant=tenant, dispatch=dispatch)
                dispatch.sent_at = timezone.now()
                dispatch.save(update_fields=["sent_at", "customer_sms_sent"])
                sent += 1


def reminders_unsent_tenant_ids(*, now: datetime.datetime | None = None) -> list[int]:
    """Tenants with dispatches decided more than a grace period ago and still unsent: their send
    task was lost (broker restart) or its worker died mid-run (the run's transaction rolled back)."""
    grace = datetime.timedelta(seconds=float(getattr(settings, "CRM_REMINDER_SWEEP_GRACE_SECONDS", 120)))
    cutoff = (now or timezone.now()) - grace
    with platform_scope("aftercare sweeper: tenants with unsent reminder dispatches"):
        return sorted(
            set(
                ReminderDispatch.objects.filter(sent_at=None, decided_at__lte=cutoff, tenant__is_active=True)
                .values_list("tenant_id", flat=True)
                .distinct()
            )
        )


def _plan_link(plan: MaintenancePlan) -> str:
    return f"/aftercare/plans/{plan.pk}/"


def _deliver_reminder(*, tenant: Tenant, dispatch: ReminderDispatch) -> None:
    from crm.notifications.services import notify, sms_send  # noqa: PLC0415

    plan = dispatch.plan
    title = f"{plan.kind.name}还有 {dispatch.offset_days} 天到期：{plan.project.name}"
    body = f"客户 {plan.customer.name}，到期日 {plan.due_on:%Y-%m-%d}。请提前预约上门。"
    assignee = plan.assigned_to
    # Nobody (or a departed colleague) owns the plan: the managers get the reminder instead.
    recipients = [assignee] if assignee is not None and assignee.is_active else _managers(tenant)
    notify(
        tenant=tenant,
        recipients=recipients,
        kind="aftercare_reminder",
        title=title,
        body=body,
        link=_plan_link(plan),
        dedupe_key=f"aftercare-reminder-{plan.pk}-{dispatch.offset_days}",
    )
    if plan.customer_reminder_consent and plan.customer.phone:
        sms_send(
            tenant=tenant,
            phone=plan.customer.phone,
            message=(
                f"【{tenant.name}】您家的{plan.kind.name}将于 {plan.due_on:%m月%d日} 到期，"
                "我们会联系您预约免费上门检查。"
            ),
            dedupe_key=f"aftercare-reminder-sms-{plan.pk}-{dispatch.offset_days}",
        )
        dispatch.customer_sms_sent = True
    events.publish(
        events.EventType.AFTERCARE_PLAN_DUE,
        tenant=tenant,
        plan_id=plan.pk,
        project_id=plan.project_id,
        offset_days=dispatch.offset_days,
    )


def _deliver_escalation(*, tenant: Tenant, dispatch: ReminderDispatch, managers: list[User]) -> None:
    from crm.notifications.services import notify  # noqa: PLC0415

    plan = dispatch.plan
    notify(
        tenant=tenant,
        recipients=managers,
        kind="aftercare_escalation",
        title=f"{plan.kind.name}已逾期 {-dispatch.offset_days} 天未回访：{plan.project.name}",
        body=(
            f"客户 {plan.customer.name}，到期日 {plan.due_on:%Y-%m-%d}，"
            f"负责人 {plan.assigned_to or _('未分配')}。"
        ),
        link=_plan_link(plan),
        dedupe_key=f"aftercare-escalation-{plan.pk}",
    )
