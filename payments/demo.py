"""Demo 回款: every signed demo project has its plan; most paid their 首付, later ones their 中期款,
and one is left overdue so the reminders and the overdue filter show something real."""

from __future__ import annotations

import datetime

from django.utils import timezone

from crm.models import Tenant, User
from payments import selectors, services
from payments.models import PaymentMethod, PaymentPlan, PaymentReceipt
from projects.models import Project, Stage, stage_index


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    if PaymentReceipt.objects.exists():
        return
    finance = staff.get("finance") or staff["manager"]
    signed = Project.objects.filter(signed_on__isnull=False, contract_amount_fen__gt=0).order_by("id")
    for project in signed:
        services.payment_plan_for_project(tenant=tenant, project_id=project.pk)
        services.payment_milestones_trigger(tenant=tenant, project_id=project.pk, stage=project.stage)
    today = timezone.localdate(timezone=tenant.zoneinfo)
    plans = list(PaymentPlan.objects.select_related("project").order_by("id"))
    for index, plan in enumerate(plans):
        if index == 0:
            continue  # left unpaid: its 首付 shows as overdue once due
        rows = selectors.plan_milestones(plan=plan, today=today)
        paid_through = 2 if stage_index(plan.project.stage) >= stage_index(Stage.MASONRY) else 1
        for number, row in enumerate(rows[:paid_through], start=1):
            if row.outstanding_fen <= 0:
                continue
            services.payment_receipt_record(
                tenant=tenant,
                plan=plan,
                amount_fen=row.outstanding_fen,
                method=PaymentMethod.BANK_TRANSFER if number == 1 else PaymentMethod.WECHAT,
                received_on=min(today, plan.project.signed_on + datetime.timedelta(days=3 * number)),
                receipt_number=f"SJ-{tenant.pk}-{plan.pk}-{number}",
                recorded_by=finance,
            )
