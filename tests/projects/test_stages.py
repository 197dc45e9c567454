"""Stage transitions, role rules, checkpoint gates, history, handover idempotency and its events."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from customers.models import Customer
from projects import selectors
from projects.models import STAGE_ORDER, Acceptance, AcceptanceKind, Project, Stage, StageHistory
from projects.services import contracts, stages
from projects.services import projects as projects_services
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def _walk_to(project, stage, people):
    """Move a fresh project forward to ``stage`` the legitimate way (manager, gates satisfied)."""
    manager = people["manager"]
    while project.stage != stage:
        nxt = STAGE_ORDER[STAGE_ORDER.index(project.stage) + 1]
        if nxt == Stage.CONTRACT_SIGNED and project.signed_on is None:
            project = contracts.contract_sign(
                tenant=project.tenant,
                project=project,
                signed_by=manager,
                contract_number=f"HT-{project.pk}",
                contract_amount_fen=200000,
                signed_on=timezone.localdate(),
            )
            continue
        if nxt == Stage.MASONRY:
            stages.acceptance_record(
                tenant=project.tenant,
                project=project,
                kind=AcceptanceKind.HIDDEN_WORKS,
                passed=True,
                recorded_by=manager,
            )
        project = stages.project_advance(tenant=project.tenant, project=project, advanced_by=manager)
    return project


def test_forward_one_step_writes_history(in_a, project, people):
    moved = stages.project_advance(tenant=in_a, project=project, advanced_by=people["designer"])
    assert moved.stage == Stage.MEASUREMENT
    row = StageHistory.objects.get(project=project)
    assert (row.from_stage, row.to_stage, row.changed_by, row.direction) == (
        Stage.CONSULTATION,
        Stage.MEASUREMENT,
        people["designer"],
        "forward",
    )


def test_skipping_a_stage_is_refused_and_nothing_written(in_a, project, people):
    with pytest.raises(ValidationError) as error:
        stages.project_move_stage(
            tenant=in_a, project=project, to_stage=Stage.DESIGN, moved_by=people["manager"]
        )
    assert "跳过" in str(error.value)
    project.refresh_from_db()
    assert project.stage == Stage.CONSULTATION
    assert not StageHistory.objects.filter(project=project).exists()


def test_same_stage_and_unknown_stage_refused(in_a, project, people):
    with pytest.raises(ValidationError):
        stages.project_move_stage(
            tenant=in_a, project=project, to_stage=Stage.CONSULTATION, moved_by=people["manager"]
        )
    with pytest.raises(ValidationError):
        stages.project_move_stage(tenant=in_a, project=project, to_stage="roof", moved_by=people["manager"])


def test_back_needs_a_reason_and_may_go_several_steps(in_a, project, people):
    project = _walk_to(project, Stage.QUOTATION, people)
    with pytest.raises(ValidationError) as error:
        stages.project_move_stage(
            tenant=in_a, project=project, to_stage=Stage.MEASUREMENT, moved_by=people["designer"]
        )
    assert "reason" in error.value.message_dict
    project = stages.project_move_stage(
        tenant=in_a,
        project=project,
        to_stage=Stage.MEASUREMENT,
        moved_by=people["designer"],
        reason="客户要求重新量房",
    )
    assert project.stage == Stage.MEASUREMENT
    last = StageHistory.objects.filter(project=project).first()
    assert (last.from_stage, last.to_stage, last.direction, last.reason) == (
        Stage.QUOTATION,
        Stage.MEASUREMENT,
        "back",
        "客户要求重新量房",
    )


def test_designer_moves_design_stages_only(in_a, project, people):
    project = _walk_to(project, Stage.QUOTATION, people)
    project.signed_on = timezone.localdate()
    project.save()
    with pytest.raises(PermissionDenied):
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["designer"])
    project = _walk_to(project, Stage.DEMOLITION, people)
    with pytest.raises(PermissionDenied):
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["designer"])


def test_pm_moves_construction_stages_only(in_a, project, people):
    with pytest.raises(PermissionDenied):
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["pm"])
    project = _walk_to(project, Stage.CONTRACT_SIGNED, people)
    project = stages.project_advance(tenant=in_a, project=project, advanced_by=people["pm"])
    assert project.stage == Stage.DEMOLITION
    assert project.construction_started_on == timezone.localdate()
    with pytest.raises(PermissionDenied):
        stages.project_move_stage(
            tenant=in_a, project=project, to_stage=Stage.QUOTATION, moved_by=people["pm"], reason="回到报价"
        )


def test_sales_and_supervisor_cannot_move_stages(in_a, project, people):
    for role in ("sales", "supervisor", "service"):
        with pytest.raises(PermissionDenied):
            stages.project_advance(tenant=in_a, project=project, advanced_by=people[role])


def test_contract_signed_stage_needs_a_signed_contract(in_a, project, people):
    project = _walk_to(project, Stage.QUOTATION, people)
    with pytest.raises(ValidationError) as error:
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["manager"])
    assert "合同" in str(error.value)


def test_masonry_needs_passed_hidden_works_acceptance(in_a, project, people):
    project = _walk_to(project, Stage.PLUMBING_ELECTRICAL, people)
    with pytest.raises(ValidationError) as error:
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["pm"])
    assert "隐蔽" in str(error.value)
    stages.acceptance_record(
        tenant=in_a,
        project=project,
        kind=AcceptanceKind.HIDDEN_WORKS,
        passed=False,
        recorded_by=people["supervisor"],
        notes="强电线管未固定",
    )
    with pytest.raises(ValidationError):
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["pm"])
    stages.acceptance_record(
        tenant=in_a,
        project=project,
        kind=AcceptanceKind.HIDDEN_WORKS,
        passed=True,
        recorded_by=people["supervisor"],
    )
    assert (
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["pm"]).stage == Stage.MASONRY
    )


def test_acceptance_only_in_its_stage_and_failure_needs_notes(in_a, project, people):
    with pytest.raises(ValidationError):
        stages.acceptance_record(
            tenant=in_a,
            project=project,
            kind=AcceptanceKind.HIDDEN_WORKS,
            passed=True,
            recorded_by=people["pm"],
        )
    project = _walk_to(project, Stage.PLUMBING_ELECTRICAL, people)
    with pytest.raises(ValidationError) as error:
        stages.acceptance_record(
            tenant=in_a,
            project=project,
            kind=AcceptanceKind.HIDDEN_WORKS,
            passed=False,
            recorded_by=people["pm"],
        )
    assert "notes" in error.value.message_dict
    assert not Acceptance.objects.exists()


def test_full_walk_to_handover_with_history(
    in_a, project, people, recorded_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        project = _walk_to(project, Stage.COMPLETION_ACCEPTANCE, people)
        with pytest.raises(ValidationError) as error:
            stages.project_advance(tenant=in_a, project=project, advanced_by=people["manager"])
        assert "竣工验收" in str(error.value)
        stages.acceptance_record(
            tenant=in_a,
            project=project,
            kind=AcceptanceKind.COMPLETION,
            passed=True,
            recorded_by=people["manager"],
        )
        project = stages.project_advance(tenant=in_a, project=project, advanced_by=people["manager"])
    assert project.stage == Stage.HANDOVER
    assert project.handed_over_on == timezone.localdate()
    moves = list(
        StageHistory.objects.filter(project=project)
        .order_by("changed_at", "id")
        .values_list("to_stage", flat=True)
    )
    assert moves == STAGE_ORDER[1:]
    assert [name for name, _ in recorded_events] == ["project.contract_signed", "project.handed_over"]
    with pytest.raises(ValidationError):
        stages.project_move_stage(
            tenant=in_a,
            project=project,
            to_stage=Stage.INSTALLATION,
            moved_by=people["manager"],
            reason="返工",
        )


def test_handover_refused_before_completion_acceptance(
    in_a, people, recorded_events, django_capture_on_commit_callbacks
):
    project = ProjectFactory(tenant=in_a, signed=True)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ValidationError) as error:
        stages.project_handover(
            tenant=in_a,
            project=project,
            handed_over_by=people["manager"],
            handed_over_on=timezone.localdate(),
        )
    assert "竣工验收" in str(error.value)
    project.refresh_from_db()
    assert project.handed_over_on is None
    assert recorded_events == []


def test_handover_is_idempotent_and_announces_once(
    in_a, people, recorded_events, django_capture_on_commit_callbacks
):
    project = ProjectFactory(tenant=in_a, ready_for_handover=True)
    day = timezone.localdate()
    with django_capture_on_commit_callbacks(execute=True):
        first = stages.project_handover(
            tenant=in_a, project=project, handed_over_by=people["pm"], handed_over_on=day
        )
    with django_capture_on_commit_callbacks(execute=True):
        second = stages.project_handover(
            tenant=in_a,
            project=project,
            handed_over_by=people["pm"],
            handed_over_on=day + datetime.timedelta(days=3),
        )
    assert first.handed_over_on == second.handed_over_on == day
    assert second.stage == Stage.HANDOVER
    assert recorded_events == [
        (
            "project.handed_over",
            {"tenant_id": in_a.pk, "project_id": project.pk, "customer_id": project.customer_id},
        )
    ]
    assert StageHistory.objects.filter(project=project, to_stage=Stage.HANDOVER).count() == 1
    customer = Customer.objects.get(pk=project.customer_id)
    assert customer.project_lifecycle == "handed_over"


def test_handover_rolled_back_announces_nothing(
    in_a, people, recorded_events, django_capture_on_commit_callbacks
):
    project = ProjectFactory(tenant=in_a, ready_for_handover=True)
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        stages.project_handover(
            tenant=in_a, project=project, handed_over_by=people["pm"], handed_over_on=timezone.localdate()
        )
        raise RuntimeError("boom")
    assert recorded_events == []
    project.refresh_from_db()
    assert project.handed_over_on is None


def test_contract_sign_announces_once_and_updates_customer(
    in_a, project, people, recorded_events, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            contracts.contract_sign(
                tenant=in_a,
                project=project,
                signed_by=people["sales"],
                contract_number="HT-1",
                contract_amount_fen=150000,
                signed_on=timezone.localdate(),
            )
    assert [name for name, _ in recorded_events] == ["project.contract_signed"]
    project.refresh_from_db()
    assert project.stage == Stage.CONTRACT_SIGNED
    customer = Customer.objects.get(pk=project.customer_id)
    assert (customer.signed_projects, customer.contract_total_fen, customer.project_lifecycle) == (
        1,
        150000,
        "signed",
    )


def test_contract_number_unique_per_tenant(in_a, people):
    a = ProjectFactory(tenant=in_a)
    b = ProjectFactory(tenant=in_a)
    contracts.contract_sign(
        tenant=in_a,
        project=a,
        signed_by=people["sales"],
        contract_number="HT-9",
        contract_amount_fen=1,
        signed_on=timezone.localdate(),
    )
    with pytest.raises(ValidationError) as error:
        contracts.contract_sign(
            tenant=in_a,
            project=b,
            signed_by=people["sales"],
            contract_number="HT-9",
            contract_amount_fen=1,
            signed_on=timezone.localdate(),
        )
    assert "contract_number" in error.value.message_dict


def test_contract_cancel_announces_once(in_a, people, recorded_events, django_capture_on_commit_callbacks):
    project = ProjectFactory(tenant=in_a, signed=True)
    with pytest.raises(ValidationError):
        contracts.contract_cancel(tenant=in_a, project=project, cancelled_by=people["manager"], reason="  ")
    with django_capture_on_commit_callbacks(execute=True):
        contracts.contract_cancel(
            tenant=in_a, project=project, cancelled_by=people["manager"], reason="客户资金问题"
        )
        contracts.contract_cancel(tenant=in_a, project=project, cancelled_by=people["manager"], reason="再次")
    assert recorded_events == [
        (
            "project.contract_cancelled",
            {"tenant_id": in_a.pk, "project_id": project.pk, "customer_id": project.customer_id},
        )
    ]
    project.refresh_from_db()
    assert project.cancel_reason == "客户资金问题"
    with pytest.raises(ValidationError):
        stages.project_advance(tenant=in_a, project=project, advanced_by=people["manager"])


def test_unsigned_or_handed_over_contract_cannot_be_cancelled(in_a, people):
    with pytest.raises(ValidationError):
        contracts.contract_cancel(
            tenant=in_a, project=ProjectFactory(tenant=in_a), cancelled_by=people["manager"], reason="x"
        )
    done = ProjectFactory(tenant=in_a, signed=True, handed_over_on=timezone.localdate())
    with pytest.raises(ValidationError):
        contracts.contract_cancel(tenant=in_a, project=done, cancelled_by=people["manager"], reason="x")


def test_tenant_renames_stage_and_sets_duration_order_unchanged(in_a, project, people):
    stages.stage_setting_update(tenant=in_a, stage=Stage.MASONRY, name="泥瓦工程", planned_days=20)
    settings = selectors.stage_settings(tenant=in_a)
    assert [info.key for info in settings] == STAGE_ORDER
    masonry = settings[STAGE_ORDER.index(Stage.MASONRY)]
    assert (masonry.name, masonry.planned_days) == ("泥瓦工程", 20)
    with pytest.raises(ValidationError):
        stages.stage_setting_update(tenant=in_a, stage="roof", name="屋顶", planned_days=3)
    with pytest.raises(ValidationError):
        stages.stage_setting_update(tenant=in_a, stage=Stage.MASONRY, name="", planned_days=3)


def test_overdue_detection_uses_tenant_duration(in_a, project, people):
    project.stage_entered_at = timezone.now() - datetime.timedelta(days=8)
    project.save()
    assert list(selectors.overdue_projects(tenant=in_a)) == [project]  # consultation default 7 days
    stages.stage_setting_update(tenant=in_a, stage=Stage.CONSULTATION, name="咨询", planned_days=10)
    assert list(selectors.overdue_projects(tenant=in_a)) == []


def test_project_create_writes_first_history_row(in_a, people):
    from tests.customers.factories import CustomerFactory

    customer = CustomerFactory(tenant=in_a)
    project = projects_services.project_create(
        tenant=in_a, created_by=people["sales"], customer=customer, name="翠湖天地 3-1201"
    )
    assert project.stage == Stage.CONSULTATION
    assert StageHistory.objects.get(project=project).to_stage == Stage.CONSULTATION
    assert Project.objects.count() == 1


def test_handover_refused_outside_completion_stage_despite_old_pass(in_a, people):
    """A pass recorded earlier must not let handover jump over stages after a move back for rework."""
    project = ProjectFactory(tenant=in_a, ready_for_handover=True)
    project = stages.project_move_stage(
        tenant=in_a, project=project, to_stage=Stage.PAINTING, moved_by=people["manager"], reason="墙面返工"
    )
    with pytest.raises(ValidationError) as error:
        stages.project_handover(
            tenant=in_a, project=project, handed_over_by=people["pm"], handed_over_on=timezone.localdate()
        )
    assert "stage" in error.value.message_dict
    project.refresh_from_db()
    assert project.stage == Stage.PAINTING
    assert project.handed_over_on is None
    assert not StageHistory.objects.filter(project=project, to_stage=Stage.HANDOVER).exists()


def test_old_completion_pass_does_not_survive_a_move_back_for_rework(in_a, people):
    """Back to painting for rework, forward again: the completion acceptance has to be passed again."""
    project = ProjectFactory(tenant=in_a, ready_for_handover=True)
    manager = people["manager"]
    project = stages.project_move_stage(
        tenant=in_a, project=project, to_stage=Stage.PAINTING, moved_by=manager, reason="墙面返工"
    )
    project = stages.project_move_stage(
        tenant=in_a, project=project, to_stage=Stage.INSTALLATION, moved_by=manager
    )
    project = stages.project_move_stage(
        tenant=in_a, project=project, to_stage=Stage.COMPLETION_ACCEPTANCE, moved_by=manager
    )
    with pytest.raises(ValidationError) as error:
        stages.project_handover(
            tenant=in_a, project=project, handed_over_by=manager, handed_over_on=timezone.localdate()
        )
    assert "竣工验收" in str(error.value)
    stages.acceptance_record(
        tenant=in_a, project=project, kind=AcceptanceKind.COMPLETION, passed=True, recorded_by=manager
    )
    project = stages.project_handover(
        tenant=in_a, project=project, handed_over_by=manager, handed_over_on=timezone.localdate()
    )
    assert project.stage == Stage.HANDOVER


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_signs_with_one_contract_number_give_one_contract_and_one_field_error(
    tenant_a, make_staff
):
    import threading

    from django.db import connection

    from crm.models import Role
    from crm.tenancy import tenant_context

    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        projects = [ProjectFactory(tenant=tenant_a) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def sign(project):
        try:
            with tenant_context(tenant_a):
                barrier.wait(timeout=10)
                contracts.contract_sign(
                    tenant=tenant_a,
                    project=project,
                    signed_by=sales,
                    contract_number="HT-RACE",
                    contract_amount_fen=100,
                    signed_on=timezone.localdate(),
                )
            outcomes.append("signed")
        except ValidationError as error:
            outcomes.append("field-error" if "contract_number" in error.message_dict else "other")
        except Exception as error:  # an IntegrityError here would be a 500 for the user
            outcomes.append(type(error).__name__)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign, args=(project,)) for project in projects]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["field-error", "signed"]
