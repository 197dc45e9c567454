"""Aftercare writes: scheduling plans, reminders and escalation, visits, tickets, surveys.

Every write that may be replayed (event handler, beat job, retried task) is idempotent through a
database unique constraint, never through "check then insert" in Python alone.
"""

from __future__ import annotations

import calendar
import datetime
import logging
import secrets
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

from aftercare.models import (
    TICKET_TRANSITIONS,
    AftercareSettings,
    DispatchKind,
    MaintenancePlan,
    PlanKind,
    PlanStatus,
    ReminderDispatch,
    ServiceTicket,
    SlaKind,
    Survey,
    SurveyKind,
    SurveyTrigger,
    TicketCategory,
    TicketEvent,
    TicketPriority,
    TicketSlaAlert,
    TicketSource,
    TicketStatus,
    Visit,
    VisitStatus,
)
from crm import events
from crm.models import Role, Tenant, User
from crm.selectors import staff_of_tenant
from crm.tenancy import platform_scope
from crm.uploads import validate_image_file
from customers.models import Customer
from projects.models import Project

logger = logging.getLogger("aftercare")

# The default plan kinds every tenant starts with (editable afterwards).
DEFAULT_PLAN_KINDS = [
    {
        "code": "year_1",
        "name": "一年回访",
        "months_after_handover": 12,
        "checklist": ["检查电路（插座、开关、配电箱）", "检查水路（管道、阀门、渗漏）", "检查墙面裂缝"],
        "creates_renovation_lead": False,
    },
    {
        "code": "year_3",
        "name": "三年回访",
        "months_after_handover": 36,
        "checklist": ["墙面翻新（补漆）建议", "五金件与洁具配件更换", "门窗密封检查"],
        "creates_renovation_lead": False,
    },
    {
        "code": "year_5",
        "name": "五年回访",
        "months_after_handover": 60,
        "checklist": ["免费全屋检查", "局部翻新方案（厨卫、软装、家电）"],
        "creates_renovation_lead": True,
    },
]


# --- dates ------------------------------------------------------------------------------------------


def add_months(start: datetime.date, months: int) -> datetime.date:
    """Calendar months later; a day that doesn't exist clamps to month end (29 Feb + 1 year → 28 Feb)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return datetime.date(year, month, day)


def tenant_today(tenant: Tenant) -> datetime.date:
    return timezone.now().astimezone(tenant.zoneinfo).date()


# --- settings and kinds ----------------------------------------------------------------------------


def aftercare_settings_get(*, tenant: Tenant) -> AftercareSettings:
    """The tenant's settings row, created with defaults on first use (race-safe)."""
    found = AftercareSettings.objects.filter().first()
    if found is not None:
        return found
    AftercareSettings.objects.bulk_create([AftercareSettings(tenant=tenant)], ignore_conflicts=True)
    return AftercareSettings.objects.get()


def plan_kinds_ensure_defaults(*, tenant: Tenant) -> list[PlanKind]:
    """Create the 1/3/5-year kinds if the tenant has none yet; return the active kinds."""
    if not PlanKind.objects.exists():
        PlanKind.objects.bulk_create(
            [PlanKind(tenant=tenant, **spec) for spec in DEFAULT_PLAN_KINDS], ignore_conflicts=True
        )
    return list(PlanKind.objects.filter(is_active=True))


@transaction.atomic
def plan_kind_save(
    *,
    tenant: Tenant,
    code: str,
    name: str,
    months_after_handover: int,
    checklist: list[str],
    creates_renovation_lead: bool = False,
    is_active: bool = True,
) -> PlanKind:
    """Add or edit a plan kind (e.g. a 6-month check); applies to handovers from now on."""
    if months_after_handover < 1 or months_after_handover > 240:
        raise ValidationError({"months_after_handover": "交付后月数必须在 1 到 240 之间。"})
    plan_kinds_ensure_defaults(tenant=tenant)
    kind, _ = PlanKind.objects.update_or_create(
        code=code,
        defaults={
            "tenant": tenant,
            "name": name,
            "months_after_handover": months_after_handover,
            "checklist": [item for item in checklist if item],
            "creates_renovation_lead": creates_renovation_lead,
            "is_active": is_active,
        },
    )
    return kind


# --- scheduling ------------------------------------------------------------------------------------


@transaction.atomic
def maintenance_plans_schedule(*, tenant: Tenant, project: Project) -> list[MaintenancePlan]:
    """Create the project's plans (one per active kind) due at handover + N months.

    Idempotent: a replayed handover event inserts nothing (unique (tenant, project, kind)).
    """
    if project.handed_over_on is None:
        raise ValidationError({"project": "项目尚未交付，无法生成回访计划。"})
    kinds = plan_kinds_ensure_defaults(tenant=tenant)
    _insert_plans(tenant=tenant, projects=[project], kinds=kinds)
    return list(MaintenancePlan.objects.filter(project=project).select_related("kind"))


def maintenance_plans_schedule_many(
    *, tenant: Tenant, projects: Iterable[Project], batch_size: int = 2000
) -> int:
    """Bulk variant for imports and the benchmark: same rule, set-based inserts (existing plans are
    skipped by the unique constraint). Returns how many plans were considered, not how many were new."""
    kinds = plan_kinds_ensure_defaults(tenant=tenant)
    batch: list[Project] = []
    created = 0
    for project in projects:
        batch.append(project)
        if len(batch) >= batch_size:
            created += _insert_plans(tenant=tenant, projects=batch, kinds=kinds)
            batch = []
    if batch:
        created += _insert_plans(tenant=tenant, projects=batch, kinds=kinds)
    return created


def _insert_plans(*, tenant: Tenant, projects: list[Project], kinds: list[PlanKind]) -> int:
    plans = [
        MaintenancePlan(
            tenant=tenant,
            project_id=project.pk,
            customer_id=project.customer_id,
            kind=kind,
            due_on=add_months(project.handed_over_on, kind.months_after_handover),
            assigned_to_id=project.service_owner_id,
            checklist=[{"item": item} for item in kind.checklist],
        )
        for project in projects
        if project.handed_over_on is not None
        for kind in kinds
    ]
    with transaction.atomic():
        created = MaintenancePlan.objects.bulk_create(plans, ignore_conflicts=True, batch_size=5000)
    return len(created)


def on_project_handed_over(
    *, tenant: Tenant, project_id: int, customer_id: int | None = None, **_: object
) -> None:
    """Subscriber of ``project_handed_over``: schedule plans and send the handover NPS survey."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.handed_over_on is None:
        return
    maintenance_plans_schedule(tenant=tenant, project=project)
    survey_create(
        tenant=tenant,
        customer=project.customer,
        project=project,
        kind=SurveyKind.NPS,
        trigger=SurveyTrigger.HANDOVER,
        dedupe_key=f"handover-nps-{project.pk}",
    )


@transaction.atomic
def plan_update(
    *,
    tenant: Tenant,
    plan: MaintenancePlan,
    assigned_to: User | None = ...,  # type: ignore[assignment]
    customer_reminder_consent: bool | None = None,
) -> MaintenancePlan:
    """Reassign the service user or record the customer's SMS consent (with its time)."""
    plan = MaintenancePlan.objects.select_for_update(of=("self",)).get(pk=plan.pk)
    fields = []
    if assigned_to is not ...:
        if assigned_to is not None and assigned_to.tenant_id != tenant.pk:
            raise ValidationError({"assigned_to": "员工不存在。"})
        plan.assigned_to = assigned_to
        fields.append("assigned_to")
    if customer_reminder_consent is not None and customer_reminder_consent != plan.customer_reminder_consent:
        plan.customer_reminder_consent = customer_reminder_consent
        plan.customer_reminder_consent_at = timezone.now()
        fields += ["customer_reminder_consent", "customer_reminder_consent_at"]
    if fields:
        plan.save(update_fields=fields)
    return plan


# --- reminders and escalation ---------------------------------------------------------------------

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


def _decide_portable(*, tenant: Tenant, offset: int, kind: str, low, high) -> list[int]:
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
                        else staff_of_tenant(tenant=tenant, role=Role.MANAGER)
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


def _managers(tenant: Tenant) -> list[User]:
    return staff_of_tenant(tenant=tenant, role=Role.MANAGER)


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
            f"负责人 {plan.assigned_to or '未分配'}。"
        ),
        link=_plan_link(plan),
        dedupe_key=f"aftercare-escalation-{plan.pk}",
    )


# --- visits ----------------------------------------------------------------------------------------


@transaction.atomic
def visit_create(
    *,
    tenant: Tenant,
    plan: MaintenancePlan,
    scheduled_at: datetime.datetime,
    technician: User | None,
    created_by: User | None = None,
) -> Visit:
    """Book an appointment for an open plan (a closed plan takes no visits)."""
    plan = MaintenancePlan.objects.select_for_update(of=("self",)).get(pk=plan.pk)
    if not plan.is_open:
        raise ValidationError({"plan": "该回访计划已关闭，不能再安排回访。"})
    if technician is not None and technician.tenant_id != tenant.pk:
        raise ValidationError({"technician": "员工不存在。"})
    if scheduled_at is None:
        raise ValidationError({"scheduled_at": "请填写预约时间。"})
    return Visit.objects.create(
        tenant=tenant,
        plan=plan,
        project_id=plan.project_id,
        customer_id=plan.customer_id,
        scheduled_at=scheduled_at,
        technician=technician,
        checklist_results=[{"item": row.get("item", ""), "ok": None, "note": ""} for row in plan.checklist],
        created_by=created_by,
    )


def _clean_checklist(results) -> list[dict]:
    if results in (None, ""):
        return []
    if not isinstance(results, list) or not all(isinstance(row, dict) and row.get("item") for row in results):
        raise ValidationError(
            {"checklist_results": '检查结果格式应为 [{"item": ..., "ok": true/false, "note": ...}]。'}
        )
    return [
        {
            "item": str(row["item"])[:200],
            "ok": row.get("ok") if row.get("ok") in (True, False) else None,
            "note": str(row.get("note", ""))[:500],
        }
        for row in results
    ]


@transaction.atomic
def visit_complete(
    *,
    tenant: Tenant,
    visit: Visit,
    completed_by: User | None,
    checklist_results: list | None = None,
    findings: str = "",
    customer_confirmed: bool = False,
    customer_signature: str = "",
    satisfaction: int | None = None,
    renovation_interest: bool = False,
    photos: list | None = None,
) -> Visit:
    """Record the visit's results and close its plan; the 5-year visit (or a customer with
    renovation interest) becomes a new lead with source "aftercare". The on-site ``photos``
    (validated images) are saved in the same transaction: no completed visit without its photos."""
    visit = Visit.objects.select_for_update(of=("self",)).get(pk=visit.pk)
    plan = (
        MaintenancePlan.objects.select_for_update(of=("self",)).select_related("kind").get(pk=visit.plan_id)
    )
    if visit.status == VisitStatus.COMPLETED:
        raise ValidationError({"visit": "该回访已完成。"})
    if not plan.is_open:
        raise ValidationError({"plan": "该回访计划已关闭。"})
    if satisfaction is not None and not 1 <= int(satisfaction) <= 5:
        raise ValidationError({"satisfaction": "满意度必须是 1 到 5 之间的整数。"})
    now = timezone.now()
    visit.checklist_results = _clean_checklist(checklist_results) or visit.checklist_results
    visit.findings = findings
    visit.customer_confirmed = customer_confirmed
    visit.customer_signature = customer_signature
    visit.satisfaction = satisfaction
    visit.renovation_interest = renovation_interest
    visit.status = VisitStatus.COMPLETED
    visit.completed_at = now
    if plan.kind.creates_renovation_lead or renovation_interest:
        visit.renovation_lead_id = _renovation_lead_create(
            tenant=tenant, visit=visit, plan=plan, by=completed_by
        )
    visit.save()
    if photos:
        visit_photos_add(tenant=tenant, visit=visit, images=photos)
    plan.status = PlanStatus.COMPLETED
    plan.completed_at = now
    plan.save(update_fields=["status", "completed_at"])
    events.publish(
        events.EventType.AFTERCARE_VISIT_COMPLETED,
        tenant=tenant,
        visit_id=visit.pk,
        plan_id=visit.plan_id,
        project_id=visit.project_id,
    )
    survey_create(
        tenant=tenant,
        customer=visit.customer,
        project=visit.project,
        kind=SurveyKind.CSAT,
        trigger=SurveyTrigger.VISIT,
        visit=visit,
        dedupe_key=f"visit-csat-{visit.pk}",
    )
    return visit


def _renovation_lead_create(
    *, tenant: Tenant, visit: Visit, plan: MaintenancePlan, by: User | None
) -> int | None:
    from customers.services import lead_create  # noqa: PLC0415 (customers is upstream of aftercare)

    customer = Customer.objects.get(pk=visit.customer_id)
    reason = "五年回访" if plan.kind.creates_renovation_lead else "回访中客户表示有翻新意向"
    lead = lead_create(
        tenant=tenant,
        name=customer.name,
        phone=customer.phone,
        source_channel="aftercare",
        note=f"{reason}：{plan.project.name}。{visit.findings}".strip(),
        created_by=by,
        customer=customer,
    )
    return getattr(lead, "pk", None)


# --- tickets ---------------------------------------------------------------------------------------


def warranty_check(
    *, tenant: Tenant, project: Project, category: str, on: datetime.date
) -> tuple[bool, datetime.date | None]:
    """Within the tenant's warranty period for that category? Returns (covered, warranty end)."""
    if project.handed_over_on is None:
        return True, None  # still under construction: the company fixes it anyway
    years = aftercare_settings_get(tenant=tenant).warranty_years_for(category)
    until = add_months(project.handed_over_on, 12 * years)
    return on <= until, until


@transaction.atomic
def ticket_create(
    *,
    tenant: Tenant,
    project: Project,
    category: str,
    description: str,
    priority: str = TicketPriority.NORMAL,
    materials: str = "",
    source: str = TicketSource.STAFF,
    created_by: User | None = None,
    assigned_to: User | None = None,
) -> ServiceTicket:
    """Open a repair/warranty ticket with warranty check and SLA due times from tenant settings."""
    errors = {}
    if category not in TicketCategory.values:
        errors["category"] = "请选择有效的类别。"
    if priority not in TicketPriority.values:
        errors["priority"] = "请选择有效的优先级。"
    if not (description or "").strip():
        errors["description"] = "请描述问题。"
    if errors:
        raise ValidationError(errors)
    project = Project.objects.get(pk=project.pk)  # scoped: another tenant's project is "does not exist"
    now = timezone.now()
    covered, until = warranty_check(
        tenant=tenant, project=project, category=category, on=tenant_today(tenant)
    )
    sla = aftercare_settings_get(tenant=tenant).sla_for(priority)
    ticket = ServiceTicket.objects.create(
        tenant=tenant,
        project=project,
        customer_id=project.customer_id,
        category=category,
        description=description.strip(),
        materials=materials,
        priority=priority,
        source=source,
        under_warranty=covered,
        warranty_until=until,
        first_response_due_at=now + datetime.timedelta(hours=sla["first_response"]),
        resolution_due_at=now + datetime.timedelta(hours=sla["resolution"]),
        created_by=created_by,
    )
    TicketEvent.objects.create(
        tenant=tenant,
        ticket=ticket,
        to_status=TicketStatus.OPEN,
        actor=created_by,
        note="保修期内" if covered else "已过保修期",
    )
    events.publish(
        events.EventType.TICKET_CREATED, tenant=tenant, ticket_id=ticket.pk, customer_id=ticket.customer_id
    )
    if assigned_to is not None:
        ticket = ticket_transition(
            tenant=tenant,
            ticket=ticket,
            to_status=TicketStatus.ASSIGNED,
            actor=created_by,
            assigned_to=assigned_to,
        )
    return ticket


@transaction.atomic
def ticket_transition(
    *,
    tenant: Tenant,
    ticket: ServiceTicket,
    to_status: str,
    actor: User | None,
    note: str = "",
    assigned_to: User | None = None,
) -> ServiceTicket:
    """Move a ticket along open → assigned → in progress → resolved → closed / reopened, with history.

    Leaving "open" is the first response; resolving sends the CSAT survey.
    """
    ticket = ServiceTicket.objects.select_for_update(of=("self",)).get(pk=ticket.pk)
    allowed = TICKET_TRANSITIONS.get(ticket.status, set())
    if to_status not in allowed:
        target = TicketStatus(to_status).label if to_status in TicketStatus.values else to_status
        raise ValidationError({"status": f"工单不能从“{ticket.get_status_display()}”变为“{target}”。"})
    if to_status == TicketStatus.ASSIGNED:
        assignee = assigned_to or ticket.assigned_to
        if assignee is None:
            raise ValidationError({"assigned_to": "请选择处理人。"})
        if assignee.tenant_id != tenant.pk:
            raise ValidationError({"assigned_to": "员工不存在。"})
        ticket.assigned_to = assignee
    now = timezone.now()
    from_status = ticket.status
    ticket.status = to_status
    if ticket.first_responded_at is None:
        ticket.first_responded_at = now
    if to_status == TicketStatus.RESOLVED:
        ticket.resolved_at = now
    elif to_status == TicketStatus.CLOSED:
        ticket.closed_at = now
        ticket.resolved_at = ticket.resolved_at or now
    elif to_status == TicketStatus.REOPENED:
        ticket.resolved_at = None
        ticket.closed_at = None
    ticket.save()
    TicketEvent.objects.create(
        tenant=tenant, ticket=ticket, from_status=from_status, to_status=to_status, actor=actor, note=note
    )
    if to_status == TicketStatus.RESOLVED:
        reopen_count = ticket.events.filter(to_status=TicketStatus.RESOLVED).count()
        survey_create(
            tenant=tenant,
            customer=ticket.customer,
            project=ticket.project,
            kind=SurveyKind.CSAT,
            trigger=SurveyTrigger.TICKET,
            ticket=ticket,
            dedupe_key=f"ticket-csat-{ticket.pk}-{reopen_count}",
        )
    return ticket


@transaction.atomic
def ticket_sla_alerts_send(*, tenant: Tenant, now: datetime.datetime | None = None) -> int:
    """Alert the assignee and managers about tickets past a due time — once per ticket and SLA kind."""
    from crm.notifications.services import notify  # noqa: PLC0415

    now = now or timezone.now()
    breaches = [
        (ticket, SlaKind.FIRST_RESPONSE)
        for ticket in ServiceTicket.objects.filter(first_responded_at=None, first_response_due_at__lt=now)
        .exclude(sla_alerts__kind=SlaKind.FIRST_RESPONSE)
        .select_related("project")
    ] + [
        (ticket, SlaKind.RESOLUTION)
        for ticket in ServiceTicket.objects.filter(resolved_at=None, resolution_due_at__lt=now)
        .exclude(sla_alerts__kind=SlaKind.RESOLUTION)
        .select_related("project", "assigned_to")
    ]
    managers = staff_of_tenant(tenant=tenant, role=Role.MANAGER) if breaches else []
    sent = 0
    for ticket, kind in breaches:
        try:
            with transaction.atomic():
                TicketSlaAlert.objects.create(tenant=tenant, ticket=ticket, kind=kind)
                events.publish(
                    events.EventType.TICKET_SLA_BREACHED,
                    tenant=tenant,
                    ticket_id=ticket.pk,
                    customer_id=ticket.customer_id,
                )
        except IntegrityError:
            continue  # another scan decided it first
        recipients = list(
            {user.pk: user for user in [*managers, ticket.assigned_to] if user is not None}.values()
        )
        notify(
            tenant=tenant,
            recipients=recipients,
            kind="aftercare_ticket_sla",
            title=f"工单 #{ticket.pk} {SlaKind(kind).label}：{ticket.project.name}",
            body=ticket.description[:200],
            link=f"/aftercare/tickets/{ticket.pk}/",
            dedupe_key=f"aftercare-sla-{ticket.pk}-{kind}",
        )
        sent += 1
    return sent


# --- surveys ---------------------------------------------------------------------------------------


def _new_token(tenant: Tenant) -> str:
    """The tenant id leads the token so the public page finds the tenant without a global scan;
    the random part (192 bits) is what makes it unguessable."""
    return f"{tenant.pk}-{secrets.token_urlsafe(24)}"


def parse_survey_token(token: str) -> int | None:
    head, _, rest = (token or "").partition("-")
    return int(head) if head.isdigit() and len(rest) >= 20 else None


@transaction.atomic
def survey_create(
    *,
    tenant: Tenant,
    customer: Customer,
    kind: str,
    trigger: str,
    dedupe_key: str,
    project: Project | None = None,
    visit: Visit | None = None,
    ticket: ServiceTicket | None = None,
    send_sms: bool = True,
) -> Survey:
    """Create a one-time survey link (once per dedupe key) and text it to the customer."""
    if kind not in SurveyKind.values:
        raise ValidationError({"kind": "问卷类型无效。"})
    if trigger not in SurveyTrigger.values:
        raise ValidationError({"trigger": "触发场景无效。"})
    if project is not None and project.customer_id != customer.pk:
        raise ValidationError({"project": "该项目不属于此客户。"})
    days = aftercare_settings_get(tenant=tenant).survey_link_days
    # The unique (tenant, dedupe_key) constraint decides: a concurrent twin gets the same row.
    survey, created = Survey.objects.get_or_create(
        tenant=tenant,
        dedupe_key=dedupe_key,
        defaults={
            "customer": customer,
            "project": project,
            "kind": kind,
            "trigger": trigger,
            "visit": visit,
            "ticket": ticket,
            "token": _new_token(tenant),
            "expires_at": timezone.now() + datetime.timedelta(days=days),
        },
    )
    if created and send_sms and customer.phone:
        transaction.on_commit(lambda: _survey_sms(tenant=tenant, survey_id=survey.pk))
    return survey


def _survey_sms(*, tenant: Tenant, survey_id: int) -> None:
    from aftercare import tasks  # noqa: PLC0415

    tasks.survey_send.delay(tenant_id=tenant.pk, survey_id=survey_id)


def survey_send_sms(*, tenant: Tenant, survey: Survey, base_url: str = "") -> None:
    from crm.notifications.services import sms_send  # noqa: PLC0415

    question = "满意度" if survey.kind == SurveyKind.CSAT else "推荐意愿"
    sms_send(
        tenant=tenant,
        phone=survey.customer.phone,
        message=(
            f"【{tenant.name}】邀请您为我们的服务打分（{question}），"
            f"链接 {base_url}/aftercare/s/{survey.token}/ ，"
            f"有效期至 {timezone.localtime(survey.expires_at):%m月%d日}。"
        ),
        dedupe_key=f"aftercare-survey-{survey.pk}",
    )


@transaction.atomic
def survey_answer(*, tenant: Tenant, token: str, score, comment: str = "") -> Survey:
    """Record the customer's one answer. Used, expired or out-of-range: ValidationError, nothing written.

    Announced as ``survey.answered`` (the referrals app invites promoters, NPS 9–10).
    """
    survey = Survey.objects.select_for_update(of=("self",)).filter(token=token).first()
    if survey is None:
        raise ValidationError({"token": "问卷链接无效。"})
    if survey.answered_at is not None:
        raise ValidationError({"token": "该问卷已提交过，感谢您的反馈。"})
    if survey.expires_at <= timezone.now():
        raise ValidationError({"token": "问卷链接已过期。"})
    try:
        score = int(score)
    except (TypeError, ValueError):
        raise ValidationError({"score": "请选择评分。"})
    if not survey.min_score <= score <= survey.max_score:
        raise ValidationError({"score": f"评分必须在 {survey.min_score} 到 {survey.max_score} 之间。"})
    survey.score = score
    survey.comment = (comment or "")[:2000]
    survey.answered_at = timezone.now()
    survey.save(update_fields=["score", "comment", "answered_at"])
    events.publish(
        events.EventType.SURVEY_ANSWERED,
        tenant=tenant,
        survey_id=survey.pk,
        customer_id=survey.customer_id,
        kind=survey.kind,
        score=score,
    )
    return survey


@transaction.atomic
def visit_photos_add(*, tenant: Tenant, visit: Visit, images: list, caption: str = "") -> list:
    """Attach on-site photos to a visit (validated images only)."""
    from aftercare.models import VisitPhoto  # noqa: PLC0415

    for image in images:
        validate_image_file(image)
    return [
        VisitPhoto.objects.create(tenant=tenant, visit=visit, image=image, caption=caption[:100])
        for image in images
    ]


def on_project_milestone(
    *, tenant: Tenant, project_id: int, milestone: str, customer_id: int | None = None, **_: object
) -> None:
    """Subscriber of ``project_milestone`` (design approval, plumbing & electrical acceptance):
    send that moment's CSAT survey once."""
    if milestone not in (SurveyTrigger.DESIGN_APPROVAL, SurveyTrigger.PLUMBING_ELECTRICAL):
        return
    project = Project.objects.select_related("customer").filter(pk=project_id).first()
    if project is None:
        return
    survey_create(
        tenant=tenant,
        customer=project.customer,
        project=project,
        kind=SurveyKind.CSAT,
        trigger=milestone,
        dedupe_key=f"{milestone}-csat-{project.pk}",
    )


@transaction.atomic
def surveys_yearly_nps(*, tenant: Tenant, today: datetime.date | None = None) -> int:
    """On each handover anniversary send the yearly NPS (once per project and year, by dedupe key;
    returns how many projects have their anniversary today).
    Run daily with the reminder scan; 29 Feb handovers are asked on 28 Feb in common years."""
    today = today or tenant_today(tenant)
    days = [today.day]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append(29)
    projects = (
        Project.objects.filter(
            handed_over_on__month=today.month, handed_over_on__day__in=days, handed_over_on__lt=today
        )
        .exclude(handed_over_on__year=today.year)
        .select_related("customer")
    )
    asked = 0
    for project in projects:
        survey_create(
            tenant=tenant,
            customer=project.customer,
            project=project,
            kind=SurveyKind.NPS,
            trigger=SurveyTrigger.YEARLY,
            dedupe_key=f"yearly-nps-{project.pk}-{today.year}",
        )
        asked += 1
    return asked


@transaction.atomic
def aftercare_settings_update(
    *,
    tenant: Tenant,
    reminder_offsets_days: list[int],
    escalation_days_overdue: int,
    warranty_years: dict[str, int],
) -> AftercareSettings:
    """Reminder offsets (days before due), escalation delay and warranty years per category."""
    errors = {}
    if not reminder_offsets_days or any(not 1 <= day <= 365 for day in reminder_offsets_days):
        errors["reminder_offsets_days"] = "提醒天数必须是 1 到 365 之间的整数，至少一个。"
    if not 1 <= escalation_days_overdue <= 365:
        errors["escalation_days_overdue"] = "升级天数必须在 1 到 365 之间。"
    if any(key != "general" and key not in TicketCategory.values for key in warranty_years) or any(
        not 0 <= int(years) <= 30 for years in warranty_years.values()
    ):
        errors["warranty_years"] = "保修年限必须是 0 到 30 年。"
    if errors:
        raise ValidationError(errors)
    config = aftercare_settings_get(tenant=tenant)
    config.reminder_offsets_days = sorted(set(reminder_offsets_days), reverse=True)
    config.escalation_days_overdue = escalation_days_overdue
    config.warranty_years = {key: int(years) for key, years in warranty_years.items()}
    config.save()
    return config


_SCHEDULE_SQL = """
INSERT INTO aftercare_maintenanceplan (tenant_id, project_id, customer_id, kind_id, due_on, status,
    assigned_to_id, checklist, customer_reminder_consent, created_at)
SELECT p.tenant_id, p.id, p.customer_id, k.id,
       (p.handed_over_on + make_interval(months => k.months_after_handover::int))::date,
       'scheduled', p.service_owner_id,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('item', item)), '[]'::jsonb)
          FROM jsonb_array_elements_text(k.checklist) AS item),
       false, now()
FROM projects_project p
JOIN aftercare_plankind k ON k.tenant_id = p.tenant_id AND k.is_active
WHERE p.tenant_id = %(tenant)s AND p.handed_over_on IS NOT NULL AND p.id >= %(low)s AND p.id < %(high)s
ON CONFLICT (tenant_id, project_id, kind_id) DO NOTHING
"""


def maintenance_plans_schedule_all(*, tenant: Tenant, batch_size: int = 20000) -> int:
    """Catch-up for imports (and the benchmark): plans for every handed-over project, set-based.

    Same rule as :func:`maintenance_plans_schedule` (PostgreSQL's ``date + interval 'n months'``
    clamps 29 Feb to 28 Feb like :func:`add_months`); one INSERT … SELECT per id range, existing
    plans skipped by the unique constraint. Returns how many plans were inserted.
    """
    plan_kinds_ensure_defaults(tenant=tenant)
    if connection.vendor != "postgresql":
        return maintenance_plans_schedule_many(
            tenant=tenant, projects=Project.objects.exclude(handed_over_on=None)
        )
    bounds = Project.objects.exclude(handed_over_on=None).aggregate(
        low=models.Min("id"), high=models.Max("id")
    )
    if bounds["low"] is None:
        return 0
    inserted = 0
    for low in range(bounds["low"], bounds["high"] + 1, batch_size):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_SCHEDULE_SQL, {"tenant": tenant.pk, "low": low, "high": low + batch_size})
            inserted += cursor.rowcount
    return inserted


@transaction.atomic
def ticket_photos_add(*, tenant: Tenant, ticket: ServiceTicket, images: list) -> list:
    """Attach photos of the problem to a ticket (validated images only)."""
    from aftercare.models import TicketPhoto  # noqa: PLC0415

    for image in images:
        validate_image_file(image)
    return [TicketPhoto.objects.create(tenant=tenant, ticket=ticket, image=image) for image in images]
