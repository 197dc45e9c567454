"""Payments factories (registered for the cross-tenant probe)."""

from __future__ import annotations

from django.utils import timezone

from payments.models import PaymentMethod, PaymentMilestone, PaymentPlan, PaymentReceipt
from payments.services import payment_plan_for_project
from tests.factories import StaffFactory, probe_factory
from tests.projects.factories import ProjectFactory


def signed_plan(tenant, amount_fen: int = 18_600_001) -> PaymentPlan:
    """A signed project (contract ``amount_fen``) with its plan from the default 30/40/30 template."""
    project = ProjectFactory(tenant=tenant, signed=True, contract_amount_fen=amount_fen)
    plan = payment_plan_for_project(tenant=tenant, project_id=project.pk)
    assert plan is not None
    return plan


@probe_factory(PaymentPlan)
def _plan(tenant) -> PaymentPlan:
    return signed_plan(tenant)


@probe_factory(PaymentReceipt)
def _receipt(tenant) -> PaymentReceipt:
    plan = signed_plan(tenant)
    return PaymentReceipt.objects.create(
        tenant=tenant,
        plan=plan,
        amount_fen=100,
        method=PaymentMethod.CASH,
        received_on=timezone.localdate(),
        recorded_by=StaffFactory(tenant=tenant),
    )


@probe_factory(PaymentMilestone)
def _milestone(tenant) -> PaymentMilestone:
    return signed_plan(tenant).milestones.order_by("position").first()
