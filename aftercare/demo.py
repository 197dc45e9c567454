"""Aftercare demo rows: handed-over homes with 1/3/5-year plans (some due soon, some overdue),
a completed visit, tickets in every state, and answered surveys. Idempotent."""

from __future__ import annotations

import datetime

from django.utils import timezone

from aftercare.models import MaintenancePlan, PlanStatus, ServiceTicket, Survey, TicketStatus, Visit
from aftercare.services import dates, plans, surveys, visits
from aftercare.services import tickets as tickets_services
from crm.models import Tenant, User
from crm.money import parse_yuan
from customers.models import Customer
from projects.models import Project

# (customer, phone suffix, 小区/project, style, days since handover)
DEMO_HOMES = [
    ("张伟", "1001", "万科城市花园 3-1202", "现代简约", 340),
    ("王芳", "1002", "绿地海珀 8-601", "北欧", 375),
    ("李娜", "1003", "保利天悦 2-1801", "新中式", 400),
    ("刘洋", "1004", "中海寰宇天下 5-902", "现代简约", 3 * 365 - 10),
    ("陈静", "1005", "融创滨江壹号 1-2301", "轻奢", 5 * 365 - 20),
    ("杨磊", "1006", "龙湖春江郦城 6-502", "日式原木", 730),
]


def _home(tenant: Tenant, staff: dict[str, User], index: int, spec) -> Project:
    name, suffix, place, style, days = spec
    prefix = "139" if tenant.slug == "anju" else "137"
    customer, _ = Customer.objects.get_or_create(
        phone=f"+86{prefix}0000{suffix}", defaults={"name": name, "source_channel": "referral"}
    )
    today = dates.tenant_today(tenant)
    project, _ = Project.objects.get_or_create(
        contract_number=f"SH-AC-{tenant.slug}-{suffix}",
        defaults={
            "customer": customer,
            "name": f"{place}（{style}）",
            "address": f"上海市 {place}",
            "contract_amount_fen": parse_yuan(180000 + index * 23000),
            "signed_on": today - datetime.timedelta(days=days + 120),
            "handed_over_on": today - datetime.timedelta(days=days),
            "designer": staff.get("designer"),
            "project_manager": staff.get("pm"),
            "service_owner": staff.get("service"),
        },
    )
    return project


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    projects = [_home(tenant, staff, index, spec) for index, spec in enumerate(DEMO_HOMES)]
    for project in projects:
        plans.maintenance_plans_schedule(tenant=tenant, project=project)
        surveys.survey_create(
            tenant=tenant,
            customer=project.customer,
            project=project,
            kind="nps",
            trigger="handover",
            dedupe_key=f"handover-nps-{project.pk}",
            send_sms=False,
        )
    now = timezone.now()
    today = dates.tenant_today(tenant)
    # Older homes were visited on time years ago: only recent plans are still open.
    MaintenancePlan.objects.filter(
        status=PlanStatus.SCHEDULED, due_on__lt=today - datetime.timedelta(days=60)
    ).exclude(project=projects[5], kind__code="year_1").update(status=PlanStatus.COMPLETED, completed_at=now)
    # A finished 1-year visit for the home handed over two years ago.
    done_plan = MaintenancePlan.objects.filter(project=projects[5], kind__code="year_1").first()
    if done_plan is not None and not Visit.objects.filter(plan=done_plan).exists():
        visit = visits.visit_create(
            tenant=tenant,
            plan=done_plan,
            scheduled_at=now - datetime.timedelta(days=360),
            technician=staff["service"],
        )
        visits.visit_complete(
            tenant=tenant,
            visit=visit,
            completed_by=staff["service"],
            checklist_results=[
                {
                    "item": row["item"],
                    "ok": index != 1,
                    "note": "卫生间角阀滴水，已更换" if index == 1 else "",
                }
                for index, row in enumerate(visit.checklist_results)
            ],
            findings="整体状况良好；卫生间角阀滴水已现场更换。",
            customer_confirmed=True,
            customer_signature="杨磊",
            satisfaction=5,
        )
    # A booked visit for the plan coming due.
    soon = MaintenancePlan.objects.filter(project=projects[0], kind__code="year_1").first()
    if (
        soon is not None
        and soon.status == PlanStatus.SCHEDULED
        and not Visit.objects.filter(plan=soon).exists()
    ):
        visits.visit_create(
            tenant=tenant,
            plan=soon,
            scheduled_at=now + datetime.timedelta(days=3, hours=2),
            technician=staff["service"],
        )
    MaintenancePlan.objects.filter(project=projects[1]).update(
        customer_reminder_consent=True, customer_reminder_consent_at=now
    )
    tickets = [
        (projects[1], "plumbing", "urgent", "厨房水槽下方渗水，柜体底板已泡胀", "PPR 水管、橱柜底板", None),
        (
            projects[4],
            "waterproofing",
            "high",
            "主卫墙面返潮发霉，疑似防水层破损",
            "防水涂料",
            TicketStatus.IN_PROGRESS,
        ),
        (projects[3], "doors_windows", "normal", "阳台推拉门滑轨异响", "推拉门滑轮", TicketStatus.RESOLVED),
        (projects[0], "electrical", "low", "客厅一处插座松动", "", None),
    ]
    for project, category, priority, description, materials, target in tickets:
        if ServiceTicket.objects.filter(project=project, description=description).exists():
            continue
        ticket = tickets_services.ticket_create(
            tenant=tenant,
            project=project,
            category=category,
            description=description,
            priority=priority,
            materials=materials,
            created_by=staff["service"],
        )
        if target is not None:
            ticket = tickets_services.ticket_transition(
                tenant=tenant,
                ticket=ticket,
                to_status=TicketStatus.ASSIGNED,
                actor=staff["manager"],
                assigned_to=staff["service"],
                note="安排师傅上门",
            )
            ticket = tickets_services.ticket_transition(
                tenant=tenant, ticket=ticket, to_status=TicketStatus.IN_PROGRESS, actor=staff["service"]
            )
            if target == TicketStatus.RESOLVED:
                tickets_services.ticket_transition(
                    tenant=tenant,
                    ticket=ticket,
                    to_status=TicketStatus.RESOLVED,
                    actor=staff["service"],
                    note="已更换滑轮并润滑",
                )
    answers = [
        (10, "设计师很用心，推荐给了同事"),
        (9, ""),
        (7, "工期稍有延误"),
        (10, "售后响应很快"),
        (4, ""),
    ]
    unanswered = Survey.objects.filter(answered_at=None, kind="nps").order_by("id")
    if Survey.objects.filter(kind="nps").exclude(answered_at=None).exists():
        unanswered = unanswered.none()  # answered on an earlier run
    for survey, (score, comment) in zip(unanswered, answers, strict=False):
        Survey.objects.filter(pk=survey.pk).update(score=score, comment=comment, answered_at=now)
    for survey in Survey.objects.filter(answered_at=None, kind="csat"):
        Survey.objects.filter(pk=survey.pk).update(score=5, comment="师傅准时、干活细致", answered_at=now)
