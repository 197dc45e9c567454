"""Demo projects in every stage with history, logs and generated photos, QC, change orders (idempotent)."""

from __future__ import annotations

import datetime
import io
import random

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from crm.models import Tenant, User
from crm.money import parse_yuan
from customers.models import Customer
from projects import selectors
from projects.models import (
    STAGE_ORDER,
    AcceptanceKind,
    ConstructionCallback,
    Project,
    Stage,
    StageHistory,
)
from projects.services import (
    callbacks,
    change_orders,
    contracts,
    designs,
    inspections,
    logs,
    materials,
    projects,
    stages,
)
from projects.tasks import create_due_callbacks

DEMO_HOMES = [
    # (customer, 小区 + unit, area, style)
    ("钱先生", "万科城市花园 3-1102", 96, "现代简约"),
    ("孙女士", "绿地海珀 2-1801", 128, "北欧"),
    ("李先生", "保利香槟国际 7-602", 142, "新中式"),
    ("周女士", "龙湖春江郦城 12-301", 88, "日式原木"),
    ("吴先生", "碧桂园凤凰城 5-1503", 165, "轻奢"),
    ("郑女士", "中海寰宇天下 1-2202", 118, "现代简约"),
    ("王先生", "融创玉兰公馆 9-801", 135, "法式"),
    ("冯女士", "华润外滩九里 3-2601", 210, "新中式"),
    ("陈先生", "万科城市花园 8-402", 78, "北欧"),
    ("褚女士", "绿地海珀 6-1201", 102, "现代简约"),
    ("卫先生", "保利香槟国际 2-1702", 156, "美式"),
    ("蒋女士", "龙湖春江郦城 3-901", 92, "奶油风"),
    ("沈先生", "碧桂园凤凰城 11-602", 126, "现代简约"),
]
LOG_TEXTS = {
    Stage.DEMOLITION: ("拆除厨房与阳台间非承重墙，垃圾清运 2 车。", "铲除卫生间旧瓷砖"),
    Stage.PLUMBING_ELECTRICAL: ("全屋弹线开槽完成，强弱电分管敷设。", "水管打压试验"),
    Stage.MASONRY: ("卫生间防水第二遍涂刷，闭水试验开始（48 小时）。", "客厅地砖铺贴"),
    Stage.CARPENTRY: ("客厅石膏板吊顶龙骨安装完成，主卧衣柜背板定位。", "封板、阳台柜体安装"),
    Stage.PAINTING: ("墙面第一遍腻子批刮完成，阴阳角找直。", "打磨、第二遍腻子"),
    Stage.INSTALLATION: ("橱柜台面安装，卫浴五金安装完成 70%。", "灯具与开关面板安装"),
    Stage.COMPLETION_ACCEPTANCE: ("全屋保洁，竣工自检清单逐项核对。", "约业主竣工验收"),
}


def _photo(rng: random.Random, index: int) -> SimpleUploadedFile:
    """A generated 'site photo': tiled wall with a work light (real JPEG made by Pillow)."""
    from PIL import Image, ImageDraw

    width, height = 800, 600
    base = (rng.randint(150, 220), rng.randint(140, 200), rng.randint(120, 180))
    image = Image.new("RGB", (width, height), base)
    draw = ImageDraw.Draw(image)
    tile = rng.choice([60, 80, 100])
    for x in range(0, width, tile):
        for y in range(0, height // 2, tile):
            shade = rng.randint(-12, 12)
            draw.rectangle(
                [x + 2, y + 2, x + tile - 2, y + tile - 2],
                fill=(
                    min(255, base[0] + 30 + shade),
                    min(255, base[1] + 30 + shade),
                    min(255, base[2] + 30 + shade),
                ),
            )
    draw.rectangle([0, height // 2, width, height], fill=(base[0] - 60, base[1] - 60, base[2] - 60))
    draw.ellipse([600, 60, 700, 160], fill=(255, 244, 200))
    draw.line([(120, height - 40), (320, height // 2 + 30)], fill=(90, 90, 90), width=12)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=70)
    return SimpleUploadedFile(f"site-{index}.jpg", out.getvalue(), content_type="image/jpeg")


def _pdf(title: str) -> SimpleUploadedFile:
    body = (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj "
        b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return SimpleUploadedFile(f"{title}.pdf", body, content_type="application/pdf")


def _customer(tenant: Tenant, index: int, name: str, staff: dict[str, User]) -> Customer:
    phone = f"+86139{tenant.pk % 100:02d}{2000 + index:04d}{(index * 3) % 100:02d}"
    customer, created = Customer.objects.get_or_create(
        phone=phone,
        defaults={
            "name": name,
            "tenant": tenant,
            "owner": staff.get("sales"),
            "designer": staff.get("designer"),
        },
    )
    if created and customer.last_touch_at is None:
        # These customers came through sales like any other: a first call, then the 量房.
        from customers.services import follow_ups as customer_follow_ups

        touched = timezone.now() - datetime.timedelta(days=2 + index)
        customer_follow_ups.follow_up_create(
            tenant=tenant,
            customer=customer,
            author=staff.get("sales"),
            kind="call",
            content="回访项目进展，客户对进度满意。",
            outcome="reached",
            occurred_at=touched,
            now=touched,  # seeded history: recorded when it happened
        )
    return customer


def _walk(tenant: Tenant, project: Project, target: str, staff: dict[str, User], number: str) -> Project:
    manager = staff["manager"]
    while project.stage != target:
        nxt = STAGE_ORDER[STAGE_ORDER.index(project.stage) + 1]
        if nxt == Stage.CONTRACT_SIGNED:
            project = contracts.contract_sign(
                tenant=tenant,
                project=project,
                signed_by=manager,
                contract_number=number,
                contract_amount_fen=parse_yuan(int(project.area_sqm) * 1500 + 20000),
                signed_on=timezone.localdate(),
                # seeded history: these contracts predate the quotations of the demo
                override_reason="演示数据：线下报价已确认",
            )
            continue
        if nxt == Stage.MASONRY:
            stages.acceptance_record(
                tenant=tenant,
                project=project,
                kind=AcceptanceKind.HIDDEN_WORKS,
                passed=True,
                recorded_by=staff["supervisor"],
                notes="水管打压 0.8MPa 30 分钟无压降，线管固定规范。",
            )
        if nxt == Stage.HANDOVER:
            stages.acceptance_record(
                tenant=tenant,
                project=project,
                kind=AcceptanceKind.COMPLETION,
                passed=True,
                recorded_by=staff["supervisor"],
                notes="业主与监理共同验收通过。",
            )
        project = stages.project_advance(tenant=tenant, project=project, advanced_by=manager)
    return project


def _backdate(tenant: Tenant, project: Project, overdue: bool) -> Project:
    """Spread the history over the planned durations so dates look real (some stages overdue)."""
    settings = {info.key: info.planned_days for info in selectors.stage_settings(tenant=tenant)}
    rows = list(StageHistory.objects.filter(project=project).order_by("changed_at", "id"))
    total = sum(settings[row.to_stage] for row in rows[:-1]) + (settings[project.stage] + 6 if overdue else 2)
    moment = timezone.now() - datetime.timedelta(days=total)
    for row in rows:
        row.changed_at = moment
        row.save(update_fields=["changed_at"])
        if row.to_stage == Stage.CONTRACT_SIGNED:
            Project.objects.filter(pk=project.pk).update(signed_on=timezone.localdate(moment))
        if row.to_stage == Stage.DEMOLITION:
            Project.objects.filter(pk=project.pk).update(construction_started_on=timezone.localdate(moment))
        if row.to_stage == Stage.HANDOVER:
            Project.objects.filter(pk=project.pk).update(handed_over_on=timezone.localdate(moment))
        if row is not rows[-1]:
            moment += datetime.timedelta(days=settings[row.to_stage])
    Project.objects.filter(pk=project.pk).update(stage_entered_at=rows[-1].changed_at)
    # The customer inquired a few days before the project opened.
    Customer.objects.filter(pk=project.customer_id, created_at__gt=rows[0].changed_at).update(
        created_at=rows[0].changed_at - datetime.timedelta(days=3)
    )
    project.refresh_from_db()
    return project


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    if (
        Project.objects.filter(contract_number__startswith="JZ-DEMO-").exists()
        or Project.objects.filter(name=DEMO_HOMES[0][1]).exists()
    ):
        return
    rng = random.Random(tenant.pk * 7)
    photo_index = 0
    for index, (name, home, area, style) in enumerate(DEMO_HOMES):
        target = STAGE_ORDER[index]
        customer = _customer(tenant, index, name, staff)
        project = projects.project_create(
            tenant=tenant,
            created_by=staff["sales"],
            customer=customer,
            name=home,
            address=f"上海市 {home}",
            area_sqm=area,
            style=style,
            designer=staff["designer"],
            project_manager=staff["pm"],
            supervisor=staff["supervisor"],
            service_owner=staff["service"],
            planned_start_on=timezone.localdate() - datetime.timedelta(days=30 - index),
            planned_end_on=timezone.localdate() + datetime.timedelta(days=60 + index),
        )
        if index >= STAGE_ORDER.index(Stage.DESIGN):
            for label, title, low in (
                ("方案A", style, 0),
                ("方案B", "现代简约", 20000),
                ("方案C", "北欧", 35000),
            ):
                plan = designs.design_plan_create(
                    tenant=tenant,
                    project=project,
                    created_by=staff["designer"],
                    label=label,
                    title=f"{title}方案",
                    style=title,
                    cost_min_fen=parse_yuan(area * 1200 + low),
                    cost_max_fen=parse_yuan(area * 1500 + low),
                    notes="开放式厨房，主卧衣帽间，阳台洗衣区。"
                    if label == "方案A"
                    else "保留原有格局，增加收纳。",
                )
                if label == "方案A":
                    plan = designs.design_plan_revise(
                        tenant=tenant,
                        plan=plan,
                        revised_by=staff["designer"],
                        change_note="客户希望控制预算",
                        cost_max_fen=parse_yuan(area * 1400),
                    )
                    if index >= STAGE_ORDER.index(Stage.QUOTATION):
                        designs.design_plan_choose(tenant=tenant, plan=plan, chosen_by=staff["designer"])
        project = _walk(tenant, project, target, staff, f"JZ-DEMO-{tenant.pk}-{index + 1:03d}")
        project = _backdate(tenant, project, overdue=index in (2, 7, 9))
        stage_i = STAGE_ORDER.index(project.stage)
        if stage_i >= STAGE_ORDER.index(Stage.DEMOLITION):
            logged_stages = [s for s in STAGE_ORDER[5 : stage_i + 1] if s in LOG_TEXTS][-3:]
            for days_ago, stage in enumerate(reversed(logged_stages)):
                done, tomorrow = LOG_TEXTS[stage]
                photos = []
                for _ in range(rng.randint(2, 3)):
                    photos.append(_photo(rng, photo_index))
                    photo_index += 1
                logs.daily_log_create(
                    tenant=tenant,
                    project=project,
                    author=staff["pm"],
                    log_date=timezone.localdate() - datetime.timedelta(days=days_ago * 2),
                    work_done=done,
                    plan_tomorrow=tomorrow,
                    workers_on_site=rng.randint(2, 6),
                    photos=photos,
                )
            checklist = inspections.checklist_items(tenant=tenant)
            items = [
                {"category": item.category, "title": item.title, "passed": True}
                for item in checklist[: rng.randint(6, 9)]
            ]
            inspections.inspection_record(
                tenant=tenant,
                project=project,
                inspector=staff["supervisor"],
                items=items,
                inspected_on=timezone.localdate() - datetime.timedelta(days=8),
            )
            if stage_i >= STAGE_ORDER.index(Stage.MASONRY):
                waterproof = next(i for i, item in enumerate(items) if item["category"] == "防水")
                items[waterproof] = {
                    **items[waterproof],
                    "passed": False,
                    "hazard": "卫生间淋浴区防水上翻高度不足，需再上翻 5cm",
                }
                inspection = inspections.inspection_record(
                    tenant=tenant,
                    project=project,
                    inspector=staff["supervisor"],
                    items=items,
                    inspected_on=timezone.localdate() - datetime.timedelta(days=1),
                )
                if stage_i >= STAGE_ORDER.index(Stage.PAINTING):
                    rectification = inspection.items.get(passed=False).rectification
                    inspections.rectification_reinspect(
                        tenant=tenant,
                        rectification=rectification,
                        inspector=staff["supervisor"],
                        passed=True,
                        note="已按要求整改，复检合格。",
                    )
            tile = materials.material_create(
                tenant=tenant,
                project=project,
                created_by=staff["pm"],
                category="main",
                name="客厅地砖",
                brand="马可波罗",
                model_number="CH8001AS 800×800",
                batch_number=f"MK2026{rng.randint(1000, 9999)}",
                supplier="马可波罗上海旗舰店",
                room="客厅",
                quantity=round(area * 0.4),
                unit="㎡",
            )
            materials.material_report_add(
                tenant=tenant, material=tile, title="瓷砖放射性检测报告", file=_pdf("tile")
            )
            materials.material_create(
                tenant=tenant,
                project=project,
                created_by=staff["pm"],
                category="auxiliary",
                name="PPR 给水管",
                brand="伟星",
                model_number="S2.5 dn20",
                batch_number=f"WX{rng.randint(100000, 999999)}",
                supplier="伟星建材",
                room="全屋",
                quantity=85,
                unit="米",
            )
        if project.signed_on is not None and stage_i >= STAGE_ORDER.index(Stage.PLUMBING_ELECTRICAL):
            approved = change_orders.change_order_create(
                tenant=tenant,
                project=project,
                created_by=staff["pm"],
                title="增加厨房插座与灯带",
                reason="业主现场确认增加小家电插座",
                lines=[
                    {
                        "description": "五孔插座（含线管）",
                        "quantity": 4,
                        "unit": "个",
                        "unit_price_fen": 8_500,
                    },
                    {
                        "description": "橱柜下 LED 灯带",
                        "quantity": 3.5,
                        "unit": "米",
                        "unit_price_fen": 12_000,
                    },
                ],
            )
            change_orders.change_order_send(tenant=tenant, change_order=approved, sent_by=staff["pm"])
            change_orders.change_order_decide(
                tenant=tenant,
                change_order=approved,
                approve=True,
                channel="staff_in_person",
                decided_by=staff["pm"],
                note="业主现场签字",
            )
            if not project.handed_over_on:
                pending = change_orders.change_order_create(
                    tenant=tenant,
                    project=project,
                    created_by=staff["pm"],
                    title="阳台改为洗衣区",
                    reason="业主希望阳台增加洗衣机位并取消原储物柜",
                    lines=[
                        {
                            "description": "阳台上下水改造",
                            "quantity": 1,
                            "unit": "项",
                            "unit_price_fen": 180_000,
                        },
                        {
                            "description": "取消阳台储物柜",
                            "quantity": 1,
                            "unit": "项",
                            "unit_price_fen": -260_000,
                        },
                        {"description": "阳台地面防水", "quantity": 6, "unit": "㎡", "unit_price_fen": 9_500},
                    ],
                )
                change_orders.change_order_send(tenant=tenant, change_order=pending, sent_by=staff["pm"])
    create_due_callbacks(tenant=tenant)
    first = ConstructionCallback.objects.order_by("id").first()
    if first is not None:
        callbacks.callback_complete(
            tenant=tenant,
            callback=first,
            completed_by=staff["service"],
            satisfaction=5,
            comments="工人准时，现场干净，对水电验收很满意。",
        )
