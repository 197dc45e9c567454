"""The real subscribers (aftercare, referrals) see each project event once, even when repeated."""

from __future__ import annotations

import pytest
from django.utils import timezone

from aftercare.models import MaintenancePlan, Survey
from projects.models import AcceptanceKind, Stage
from projects.services import designs, stages
from tests.projects.factories import DesignPlanFactory, ProjectFactory

pytestmark = pytest.mark.django_db


def test_double_handover_schedules_aftercare_once(in_a, people, django_capture_on_commit_callbacks):
    project = ProjectFactory(tenant=in_a, ready_for_handover=True)
    with django_capture_on_commit_callbacks(execute=True):
        stages.project_handover(
            tenant=in_a, project=project, handed_over_by=people["pm"], handed_over_on=timezone.localdate()
        )
    plans = MaintenancePlan.objects.filter(project=project).count()
    assert plans > 0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        stages.project_handover(
            tenant=in_a, project=project, handed_over_by=people["pm"], handed_over_on=timezone.localdate()
        )
    assert callbacks == []  # nothing announced the second time
    assert MaintenancePlan.objects.filter(project=project).count() == plans


def test_refused_handover_schedules_nothing(in_a, people, django_capture_on_commit_callbacks):
    project = ProjectFactory(tenant=in_a, signed=True, stage=Stage.COMPLETION_ACCEPTANCE)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):
        stages.project_handover(
            tenant=in_a, project=project, handed_over_by=people["pm"], handed_over_on=timezone.localdate()
        )
    assert not MaintenancePlan.objects.filter(project=project).exists()


def test_milestones_reach_aftercare_surveys(in_a, people, django_capture_on_commit_callbacks):
    project = ProjectFactory(tenant=in_a, signed=True, stage=Stage.PLUMBING_ELECTRICAL)
    plan = DesignPlanFactory(tenant=in_a, project=project)
    with django_capture_on_commit_callbacks(execute=True):
        designs.design_plan_choose(tenant=in_a, plan=plan, chosen_by=people["designer"])
        stages.acceptance_record(
            tenant=in_a,
            project=project,
            kind=AcceptanceKind.HIDDEN_WORKS,
            passed=True,
            recorded_by=people["supervisor"],
        )
    triggers = set(Survey.objects.filter(project=project).values_list("trigger", flat=True))
    assert {"design_approval", "plumbing_electrical"} <= triggers
