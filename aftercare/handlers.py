"""Event subscribers of the aftercare app (registered in ``AftercareConfig.ready``)."""

from __future__ import annotations

from aftercare.models import (
    SurveyKind,
    SurveyTrigger,
)
from aftercare.services.plans import maintenance_plans_schedule
from aftercare.services.surveys import survey_create
from crm.models import Tenant
from projects.models import Project


def on_project_handed_over(
    *,
    tenant: Tenant,
    project_id: int,
    customer_id: int | None = None,  # noqa: ARG001 - event payload field
    **_: object,
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


def on_project_milestone(
    *,
    tenant: Tenant,
    project_id: int,
    milestone: str,
    customer_id: int | None = None,  # noqa: ARG001 - event payload field
    **_: object,
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
