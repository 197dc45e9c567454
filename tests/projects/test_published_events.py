"""project.stage_changed and inspection.failed: exactly one event per committed change."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crm.events.models import Event
from projects.models import STAGE_ORDER, Stage
from projects.services import inspections, stages

pytestmark = pytest.mark.django_db


def _payloads(event_type):
    return list(Event.objects.filter(type=event_type).order_by("id").values_list("payload", flat=True))


def test_each_stage_move_is_announced_once(in_a, project, people):
    stages.project_advance(tenant=in_a, project=project, advanced_by=people["designer"])
    with pytest.raises(ValidationError):  # a refused move (skipping a stage) announces nothing
        stages.project_move_stage(
            tenant=in_a,
            project=project,
            to_stage=STAGE_ORDER[STAGE_ORDER.index(Stage.MEASUREMENT) + 2],
            moved_by=people["manager"],
        )
    stages.project_move_stage(
        tenant=in_a,
        project=project,
        to_stage=Stage.CONSULTATION,
        moved_by=people["manager"],
        reason="客户要求重新量房",
    )
    base = {"project_id": project.pk, "customer_id": project.customer_id}
    assert _payloads("project.stage_changed") == [
        {**base, "from_stage": Stage.CONSULTATION, "to_stage": Stage.MEASUREMENT},
        {**base, "from_stage": Stage.MEASUREMENT, "to_stage": Stage.CONSULTATION},
    ]


def test_failed_inspection_is_announced_once_a_passed_one_not_at_all(in_a, project, people):
    inspections.inspection_record(
        tenant=in_a,
        project=project,
        inspector=people["supervisor"],
        items=[{"title": "地漏坡度", "passed": True}],
    )
    assert _payloads("inspection.failed") == []
    failed = inspections.inspection_record(
        tenant=in_a,
        project=project,
        inspector=people["supervisor"],
        items=[
            {"title": "防水上翻", "passed": False, "hazard": "需再上翻 5cm"},
            {"title": "墙砖空鼓", "passed": False, "hazard": "空鼓 3 处"},
        ],
    )
    assert _payloads("inspection.failed") == [{"inspection_id": failed.pk, "project_id": project.pk}]
