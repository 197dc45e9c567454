"""Project factories (also registered for the cross-tenant probe)."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import factory
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.models import Role
from projects.models import (
    Acceptance,
    AcceptanceKind,
    ChangeOrder,
    ChangeOrderLine,
    ConstructionCallback,
    DailyLog,
    DesignPlan,
    Inspection,
    InspectionItem,
    Material,
    Project,
    Rectification,
    ShareLink,
    Stage,
    StageHistory,
)
from tests.customers.factories import CustomerFactory
from tests.factories import StaffFactory, probe_factory


class ProjectFactory(factory.django.DjangoModelFactory):
    """Create inside ``tenant_context(tenant)``; pass ``tenant=``.

    ``ProjectFactory(tenant=t, ready_for_handover=True)`` gives a signed project in completion
    acceptance with a passed completion acceptance, so ``project_handover`` succeeds.
    """

    class Meta:
        model = Project
        skip_postgeneration_save = True  # the completion acceptance points at the project; nothing to re-save

    customer = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    name = factory.Sequence(lambda n: f"阳光花园 {n} 栋")
    address = "上海市浦东新区阳光花园"

    class Params:
        signed = factory.Trait(
            contract_number=factory.Sequence(lambda n: f"HT-2026-{n:04d}"),
            contract_amount_fen=180000,
            signed_on=factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=60)),
            stage=Stage.CONTRACT_SIGNED,
        )
        ready_for_handover = factory.Trait(
            signed=True,
            stage=Stage.COMPLETION_ACCEPTANCE,
            construction_started_on=factory.LazyFunction(
                lambda: timezone.localdate() - datetime.timedelta(days=50)
            ),
            completion=factory.RelatedFactory(
                "tests.projects.factories.AcceptanceFactory",
                factory_related_name="project",
                tenant=factory.SelfAttribute("..tenant"),
                kind=AcceptanceKind.COMPLETION,
                passed=True,
            ),
        )


def make_ready_for_handover(project: Project) -> Project:
    """Put an existing project where ``project_handover`` is allowed (for other apps' tests)."""
    project.stage = Stage.COMPLETION_ACCEPTANCE
    if project.signed_on is None:
        project.signed_on = timezone.localdate() - datetime.timedelta(days=60)
        project.contract_amount_fen = project.contract_amount_fen or 100000
    project.save()
    Acceptance.objects.create(
        tenant_id=project.tenant_id,
        project=project,
        kind=AcceptanceKind.COMPLETION,
        passed=True,
        accepted_on=timezone.localdate(),
    )
    return project


class AcceptanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Acceptance

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = AcceptanceKind.HIDDEN_WORKS
    passed = True
    accepted_on = factory.LazyFunction(timezone.localdate)


class StageHistoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StageHistory

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    from_stage = Stage.CONSULTATION
    to_stage = Stage.MEASUREMENT


class DesignPlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DesignPlan

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    label = factory.Sequence(lambda n: f"方案{n}")
    title = "现代简约"
    cost_min_fen = 150000
    cost_max_fen = 200000


class DailyLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DailyLog

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    log_date = factory.LazyFunction(timezone.localdate)
    work_done = "厨房墙面开槽，布线完成 60%"
    workers_on_site = 3


class InspectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inspection

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    inspected_on = factory.LazyFunction(timezone.localdate)
    score = 100


class RectificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rectification

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    item = factory.LazyAttribute(
        lambda o: InspectionItem.objects.create(
            tenant=o.tenant,
            inspection=InspectionFactory(tenant=o.tenant, project=o.project),
            title="卫生间防水上翻",
            passed=False,
            hazard="防水需再上翻 5cm",
        )
    )
    description = "防水需再上翻 5cm"
    due_on = factory.LazyFunction(lambda: timezone.localdate() + datetime.timedelta(days=3))


class ChangeOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChangeOrder

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"), signed=True)
    number = factory.Sequence(lambda n: n + 1)
    title = "增加吊顶"
    reason = "客户要求客厅增加石膏板吊顶"
    amount_delta_fen = 0


class ChangeOrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChangeOrderLine

    change_order = factory.SubFactory(ChangeOrderFactory, tenant=factory.SelfAttribute("..tenant"))
    description = "石膏板吊顶"
    quantity = Decimal("10")
    unit_price_fen = 120
    amount_fen = 1200


class MaterialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Material

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    category = Material.Category.MAIN
    name = "瓷砖"
    brand = "马可波罗"
    batch_number = "MK20260301"
    quantity = Decimal("45")
    unit = "㎡"


class CallbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConstructionCallback

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    period = factory.Sequence(lambda n: n + 1)
    due_on = factory.LazyFunction(timezone.localdate)


class ShareLinkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShareLink

    project = factory.SubFactory(ProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    key_hash = factory.Sequence(lambda n: f"{n:064d}")
    prefix = "probe"
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=30))


def image_upload(
    name: str = "site.jpg", fmt: str = "JPEG", size=(64, 48), color=(200, 120, 40)
) -> SimpleUploadedFile:
    """A real image made by Pillow (uploads are checked by content)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    content_type = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}[fmt]
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


def staff(tenant, *roles):
    return StaffFactory(tenant=tenant, roles=list(roles) or [Role.SALES])


@probe_factory(Project)
def _project(tenant) -> Project:
    return ProjectFactory(tenant=tenant)


@probe_factory(StageHistory)
def _stage_history(tenant) -> StageHistory:
    return StageHistoryFactory(tenant=tenant)


@probe_factory(DesignPlan)
def _design_plan(tenant) -> DesignPlan:
    return DesignPlanFactory(tenant=tenant)


@probe_factory(DailyLog)
def _daily_log(tenant) -> DailyLog:
    return DailyLogFactory(tenant=tenant)


@probe_factory(Inspection)
def _inspection(tenant) -> Inspection:
    return InspectionFactory(tenant=tenant)


@probe_factory(Rectification)
def _rectification(tenant) -> Rectification:
    return RectificationFactory(tenant=tenant)


@probe_factory(ChangeOrder)
def _change_order(tenant) -> ChangeOrder:
    return ChangeOrderFactory(tenant=tenant, status="sent")


@probe_factory(Material)
def _material(tenant) -> Material:
    return MaterialFactory(tenant=tenant)


@probe_factory(ConstructionCallback)
def _callback(tenant) -> ConstructionCallback:
    return CallbackFactory(tenant=tenant)


@probe_factory(ShareLink)
def _share_link(tenant) -> ShareLink:
    return ShareLinkFactory(tenant=tenant)
