"""Browser pages: list filters, detail tabs, actions with form errors, board, cross-tenant 404."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.tenancy import tenant_context
from projects.models import DailyLog, Project, Stage, StageSetting
from projects.services import inspections, stages
from tests.projects.factories import (
    AcceptanceFactory,
    ChangeOrderFactory,
    DailyLogFactory,
    MaterialFactory,
    ProjectFactory,
    StageHistoryFactory,
    image_upload,
)

pytestmark = pytest.mark.django_db


def test_list_filters_by_stage_overdue_staff(session_client, tenant_a, people):
    with tenant_context(tenant_a):
        late = ProjectFactory(
            tenant=tenant_a,
            name="超期项目",
            stage=Stage.MASONRY,
            signed=True,
            project_manager=people["pm"],
            stage_entered_at=timezone.now() - datetime.timedelta(days=40),
        )
        ProjectFactory(tenant=tenant_a, name="设计中项目", stage=Stage.DESIGN, designer=people["designer"])
    client = session_client(people["manager"])
    body = client.get(reverse("projects:list")).content.decode()
    assert "超期项目" in body and "设计中项目" in body
    body = client.get(reverse("projects:list"), {"stage": "design"}).content.decode()
    assert "设计中项目" in body and "超期项目" not in body
    body = client.get(reverse("projects:list"), {"overdue": "on"}).content.decode()
    assert "超期项目" in body and "设计中项目" not in body
    body = client.get(reverse("projects:list"), {"staff": people["designer"].pk}).content.decode()
    assert "设计中项目" in body and "超期项目" not in body
    body = client.get(reverse("projects:list"), {"customer": late.customer_id}).content.decode()
    assert "超期项目" in body and "设计中项目" not in body


def test_list_query_count_is_constant(session_client, tenant_a, people, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = session_client(people["manager"])
    with tenant_context(tenant_a):
        for _ in range(2):
            ProjectFactory(tenant=tenant_a, signed=True, project_manager=people["pm"])
    client.get(reverse("projects:list"))
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("projects:list"))
    with tenant_context(tenant_a):
        for _ in range(8):
            ProjectFactory(
                tenant=tenant_a, signed=True, project_manager=people["pm"], designer=people["designer"]
            )
    with django_assert_max_num_queries(len(small.captured_queries)):
        client.get(reverse("projects:list"))


def test_every_tab_renders(session_client, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True)
        DailyLogFactory(tenant=tenant_a, project=project)
        ChangeOrderFactory(tenant=tenant_a, project=project)
        MaterialFactory(tenant=tenant_a, project=project)
    client = session_client(people["manager"])
    for tab in ("stages", "plans", "logs", "inspections", "change_orders", "materials", "callbacks", "share"):
        response = client.get(reverse("projects:detail", args=[project.pk]), {"tab": tab})
        assert response.status_code == 200, tab
    assert client.get(reverse("projects:board")).status_code == 200


def test_stages_tab_shows_what_its_one_statement_read(session_client, tenant_a, people):
    """Team names, budget, tenant stage names, history (back badge, escaped text) and acceptances
    come from the page's single project statement (issue 12): the page still shows each of them."""
    people["designer"].display_name = "王设计"
    people["designer"].save(update_fields=["display_name"])
    with tenant_context(tenant_a):
        StageSetting.objects.create(tenant=tenant_a, stage=Stage.DEMOLITION, name="拆除改造", planned_days=9)
        project = ProjectFactory(
            tenant=tenant_a, signed=True, designer=people["designer"], supervisor=people["supervisor"]
        )
        ChangeOrderFactory(tenant=tenant_a, project=project, status="approved", amount_delta_fen=25000)
        ChangeOrderFactory(tenant=tenant_a, project=project, status="sent", amount_delta_fen=99900)
        StageHistoryFactory(
            tenant=tenant_a,
            project=project,
            from_stage=Stage.DEMOLITION,
            to_stage=Stage.CONTRACT_SIGNED,
            direction="back",
            reason="<b>图纸</b>返工",
            changed_by=people["pm"],
        )
        AcceptanceFactory(tenant=tenant_a, project=project, passed=False, notes="地漏坡度不足")
    body = (
        session_client(people["manager"]).get(reverse("projects:detail", args=[project.pk])).content.decode()
    )
    assert "王设计 / —" in body  # designer (display name) / no project manager
    assert f"{people['supervisor']} / —" in body
    assert "¥1,800.00 / ¥2,050.00" in body  # contract + the approved change order only
    assert (
        '<li class="todo">拆除改造</li>' in body
        and '<option value="demolition" selected>拆除改造</option>' in body
    )
    assert "<td>拆除改造</td>" in body and '<span class="crm-badge warn">退回</span>' in body
    assert "&lt;b&gt;图纸&lt;/b&gt;返工" in body and "<b>图纸</b>" not in body
    assert f"<td>{people['pm']}</td>" in body
    assert '<span class="proj-fail">不通过</span>' in body and "地漏坡度不足" in body


def test_skip_stage_shows_form_error(session_client, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    client = session_client(people["manager"])
    response = client.post(reverse("projects:move-stage", args=[project.pk]), {"to_stage": "design"})
    assert response.status_code == 400
    assert "不能跳过阶段" in response.content.decode()
    response = client.post(reverse("projects:move-stage", args=[project.pk]), {"to_stage": "measurement"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Project.objects.get(pk=project.pk).stage == Stage.MEASUREMENT


def test_bad_photo_keeps_the_typed_log(session_client, tenant_a, people):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    client = session_client(people["pm"])
    data = {
        "log_date": str(timezone.localdate()),
        "work_done": "厨房吊顶龙骨安装完成",
        "workers_on_site": 3,
        "photos": [
            image_upload(),
            SimpleUploadedFile("x.jpg", b"GIF89a-not-really", content_type="image/jpeg"),
        ],
    }
    response = client.post(reverse("projects:log-create", args=[project.pk]), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert "不是有效的图片" in body and "厨房吊顶龙骨安装完成" in body
    with tenant_context(tenant_a):
        assert not DailyLog.objects.exists()
    data["photos"] = [image_upload()]
    assert client.post(reverse("projects:log-create", args=[project.pk]), data).status_code == 302


def test_role_without_permission_cannot_act(session_client, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    client = session_client(people["sales"])
    response = client.post(reverse("projects:inspection-create", args=[project.pk]), {})
    assert response.status_code == 403


def test_other_tenants_project_is_404(session_client, tenant_b, people):
    with tenant_context(tenant_b):
        foreign = ProjectFactory(tenant=tenant_b)
    client = session_client(people["manager"])
    assert client.get(reverse("projects:detail", args=[foreign.pk])).status_code == 404
    assert (
        client.post(
            reverse("projects:move-stage", args=[foreign.pk]), {"to_stage": "measurement"}
        ).status_code
        == 404
    )


def test_share_link_created_from_page_is_shown_once(session_client, client, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    staff_client = session_client(people["pm"])
    body = staff_client.post(
        reverse("projects:share-create", args=[project.pk]), {"valid_days": 7}
    ).content.decode()
    assert "/projects/progress/" in body
    again = staff_client.get(reverse("projects:detail", args=[project.pk]), {"tab": "share"}).content.decode()
    assert "/projects/progress/" not in again


def test_customer_panel_and_timeline(tenant_a, people, rf):
    from crm import extensions

    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, name="滨江壹号 8-2601")
        stages.project_advance(tenant=tenant_a, project=project, advanced_by=people["designer"])
        entries = extensions.customer_timeline(tenant=tenant_a, customer_id=project.customer_id)
        request = rf.get("/")
        request.user = people["manager"]
        panels = extensions.customer_panels(request=request, tenant=tenant_a, customer_id=project.customer_id)
    assert any(e.kind == "project_stage" and "滨江壹号" in e.title for e in entries)
    assert any("滨江壹号 8-2601" in p.html for p in panels)


def test_quality_score_per_inspection_and_per_pm(in_a, people, make_staff, tenant_a):
    from crm.models import Role
    from projects import selectors

    other_pm = make_staff(tenant_a, Role.PROJECT_MANAGER)
    one = ProjectFactory(tenant=in_a, project_manager=people["pm"])
    two = ProjectFactory(tenant=in_a, project_manager=other_pm)
    ok, bad = {"title": "a", "passed": True}, {"title": "b", "passed": False, "hazard": "空鼓"}
    assert (
        inspections.inspection_record(
            tenant=in_a, project=one, inspector=people["supervisor"], items=[ok, ok]
        ).score
        == 100
    )
    assert (
        inspections.inspection_record(
            tenant=in_a, project=one, inspector=people["supervisor"], items=[ok, bad]
        ).score
        == 50
    )
    inspections.inspection_record(
        tenant=in_a, project=two, inspector=people["supervisor"], items=[ok, bad, bad, bad]
    )
    rect = one.rectifications.get()
    inspections.rectification_reinspect(
        tenant=in_a, rectification=rect, inspector=people["supervisor"], passed=True
    )
    scores = {row["project_manager_id"]: row for row in selectors.pm_quality_scores(tenant=in_a)}
    assert scores[people["pm"].pk]["average_score"] == 75.0 and scores[people["pm"].pk]["inspections"] == 2
    assert scores[other_pm.pk]["average_score"] == 25.0


def test_admin_lists_only_own_tenants_projects(client, tenant_a, tenant_b, admin_a):
    with tenant_context(tenant_a):
        ProjectFactory(tenant=tenant_a, name="本公司项目")
    with tenant_context(tenant_b):
        ProjectFactory(tenant=tenant_b, name="别家公司项目")
    client.force_login(admin_a, backend="django.contrib.auth.backends.ModelBackend")
    for url in ("/admin/projects/project/", "/admin/projects/stagehistory/", "/admin/projects/changeorder/"):
        response = client.get(url)
        assert response.status_code == 200, url
    body = client.get("/admin/projects/project/").content.decode()
    assert "本公司项目" in body and "别家公司项目" not in body


def test_stage_settings_page_renames_and_rejects_bad_input(session_client, tenant_a, people):
    from projects import selectors
    from projects.models import STAGE_ORDER

    client = session_client(people["manager"])
    assert client.get(reverse("projects:stage-settings")).status_code == 200
    with tenant_context(tenant_a):
        data = {}
        for info in selectors.stage_settings(tenant=tenant_a):
            data[f"name_{info.key}"] = info.name
            data[f"days_{info.key}"] = info.planned_days
    data["name_masonry"], data["days_masonry"] = "泥瓦铺贴", 18
    assert client.post(reverse("projects:stage-settings"), data).status_code == 302
    with tenant_context(tenant_a):
        masonry = selectors.stage_settings(tenant=tenant_a)[STAGE_ORDER.index("masonry")]
    assert (masonry.name, masonry.planned_days) == ("泥瓦铺贴", 18)
    data["days_design"] = -3
    response = client.post(reverse("projects:stage-settings"), data)
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert session_client(people["pm"]).get(reverse("projects:stage-settings")).status_code == 403


@pytest.mark.parametrize(
    "line",
    [
        "吊顶|1.234|㎡|150",  # 3 decimals: the DB would round the quantity but not the amount
        "吊顶|NaN|㎡|150",
        "吊顶|Infinity|㎡|150",
        "吊顶|1|这是一个超过十个字符的单位名称|150",
        "吊顶" * 60 + "|1|㎡|150",
        "吊顶|1|㎡|99999999999999999999999",
    ],
)
def test_bad_change_order_line_is_a_form_error_not_a_crash(session_client, tenant_a, people, line):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True)
    client = session_client(people["manager"])
    response = client.post(
        reverse("projects:change-order-create", args=[project.pk]),
        {"title": "吊顶变更", "reason": "客户要求", "lines": line},
    )
    assert response.status_code == 400
    with tenant_context(tenant_a):
        assert not project.change_orders.exists()


def test_form_markup_reused_only_for_the_same_language_choices_and_initial():
    """``{% form_fields %}`` keeps an unbound form's markup per language, choices and initial value;
    a bound form (with its errors) is rendered each time."""
    from django.utils import translation

    from projects import forms
    from projects.models import STAGE_ORDER
    from projects.templatetags.project_forms import form_fields

    names = {key: f"阶段{index}" for index, key in enumerate(STAGE_ORDER)}
    with translation.override("zh-hans"):
        zh = form_fields(forms.StageMoveForm(stage_names=names, initial={"to_stage": "design"}))
        renamed = form_fields(
            forms.StageMoveForm(stage_names={**names, "design": "方案"}, initial={"to_stage": "design"})
        )
        other = form_fields(forms.StageMoveForm(stage_names=names, initial={"to_stage": "masonry"}))
        bound = form_fields(forms.StageMoveForm({"to_stage": "nope"}, stage_names=names))
    with translation.override("en"):
        en = form_fields(forms.StageMoveForm(stage_names=names, initial={"to_stage": "design"}))
    assert "目标阶段" in zh and '<option value="design" selected>阶段2</option>' in zh
    assert '<option value="design" selected>方案</option>' in renamed
    assert '<option value="masonry" selected>' in other and '<option value="design" selected>' not in other
    assert "Target stage" in en and "目标阶段" not in en
    assert 'class="errorlist' in bound and "errorlist" not in zh
