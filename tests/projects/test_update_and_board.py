"""Project edits go through ``project_update`` (API PATCH too); the board is bounded per column;
the share-link lookup is a selector other apps may use."""

from __future__ import annotations

import ast
import datetime
import pathlib

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from crm.tenancy import tenant_context
from projects import selectors
from projects.models import Project, Stage
from projects.services import projects, share, stages
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pm_client(tenant_a, people, token_client):
    return token_client(people["manager"])


def test_api_patch_refuses_planned_end_before_start(tenant_a, project, pm_client):
    response = pm_client.patch(
        f"/api/v1/projects/{project.pk}/",
        {"planned_start_on": "2026-05-01", "planned_end_on": "2026-04-01"},
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "planned_end_on" in response.json()["errors"]
    # half of the pair against the stored other half is checked too
    with tenant_context(tenant_a):
        Project.objects.filter(pk=project.pk).update(planned_start_on=datetime.date(2026, 5, 1))
    response = pm_client.patch(
        f"/api/v1/projects/{project.pk}/", {"planned_end_on": "2026-04-30"}, format="json"
    )
    assert response.status_code == 400 and "planned_end_on" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert Project.objects.get(pk=project.pk).planned_end_on is None


def test_api_patch_after_handover_is_refused(tenant_a, people, pm_client):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, ready_for_handover=True)
        stages.project_handover(
            tenant=tenant_a,
            project=project,
            handed_over_by=people["manager"],
            handed_over_on=timezone.localdate(),
        )
    response = pm_client.patch(f"/api/v1/projects/{project.pk}/", {"name": "改名"}, format="json")
    assert response.status_code == 400, response.content
    assert "non_field_errors" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert Project.objects.get(pk=project.pk).name == project.name
        with pytest.raises(ValidationError) as error:
            projects.project_update(tenant=tenant_a, project=project, updated_by=None, name="改名")
    assert error.value.code == "project_handed_over"


def test_api_patch_edits_details_through_the_service(tenant_a, project, people, pm_client):
    response = pm_client.patch(
        f"/api/v1/projects/{project.pk}/",
        {"name": "新名字", "planned_start_on": "2026-05-01", "planned_end_on": "2026-08-01"},
        format="json",
    )
    assert response.status_code == 200, response.content
    with tenant_context(tenant_a):
        project.refresh_from_db()
    assert project.name == "新名字" and project.planned_end_on == datetime.date(2026, 8, 1)


def test_create_page_refuses_planned_end_before_start(tenant_a, people, session_client):
    from tests.customers.factories import CustomerFactory

    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    response = session_client(people["manager"]).post(
        reverse("projects:create"),
        {
            "customer": customer.pk,
            "name": "新项目",
            "planned_start_on": "2026-05-01",
            "planned_end_on": "2026-04-01",
        },
    )
    assert response.status_code == 200 and "计划完工日期不能早于计划开工日期" in response.content.decode()
    with tenant_context(tenant_a):
        assert not Project.objects.filter(name="新项目").exists()


# --- board ------------------------------------------------------------------------------------------


def test_board_shows_a_bounded_column_with_a_count_and_more_link(tenant_a, people, session_client):
    per_column = selectors.BOARD_COLUMN_LIMIT
    now = timezone.now()
    with tenant_context(tenant_a):
        for index in range(per_column + 3):
            ProjectFactory(
                tenant=tenant_a,
                stage=Stage.DESIGN,
                name=f"设计项目{index:02d}",
                stage_entered_at=now - datetime.timedelta(days=100 - index),
            )
        ProjectFactory(tenant=tenant_a, stage=Stage.MEASUREMENT, name="量房项目")
    client = session_client(people["manager"])
    html = client.get(reverse("projects:board")).content.decode()
    shown = [index for index in range(per_column + 3) if f"设计项目{index:02d}" in html]
    assert shown == list(range(per_column))  # the longest-waiting first
    assert "量房项目" in html
    assert f"{reverse('projects:list')}?stage={Stage.DESIGN}" in html
    assert f'<span class="crm-badge">{per_column + 3}</span>' in html


def test_board_query_count_does_not_grow_with_projects(tenant_a, people, session_client):
    client = session_client(people["manager"])
    with tenant_context(tenant_a):
        ProjectFactory(tenant=tenant_a, project_manager=people["pm"])
    client.get(reverse("projects:board"))  # warm the per-user page facts (session, badge) in Redis
    with CaptureQueriesContext(connection) as small:
        client.get(reverse("projects:board"))
    with tenant_context(tenant_a):
        for stage in (Stage.DESIGN, Stage.QUOTATION, Stage.CONSULTATION):
            for _ in range(5):
                ProjectFactory(tenant=tenant_a, stage=stage, project_manager=people["pm"])
    with CaptureQueriesContext(connection) as big:
        client.get(reverse("projects:board"))
    assert len(big.captured_queries) == len(small.captured_queries)


# --- share-link selector --------------------------------------------------------------------------


def test_share_link_resolves_through_the_selector(tenant_a, project, people):
    with tenant_context(tenant_a):
        _, token = share.share_link_create(tenant=tenant_a, project=project, created_by=people["manager"])
    assert selectors.resolve_share_link(token).project_id == project.pk
    assert selectors.resolve_share_link("nope") is None


def test_no_app_imports_another_apps_views():
    """Views are entry points, not a library: shared reads live in selectors."""
    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = []
    apps = ("crm", "customers", "projects", "aftercare", "referrals")
    for app in apps:
        for path in (root / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    parts = node.module.split(".")
                    if parts[0] in apps and parts[0] != app and parts[-1] == "views":
                        offenders.append(f"{path.relative_to(root)}: {node.module}")
    assert offenders == []


def test_edit_page_uses_the_same_rules(tenant_a, project, people, session_client):
    client = session_client(people["manager"])
    url = reverse("projects:edit", args=[project.pk])
    assert client.get(url).status_code == 200
    form = {"name": "改名后", "planned_start_on": "2026-05-01", "planned_end_on": "2026-04-01"}
    bad = client.post(url, form)
    assert bad.status_code == 400 and "计划完工日期不能早于计划开工日期" in bad.content.decode()
    good = client.post(url, {**form, "planned_end_on": "2026-09-01", "project_manager": people["pm"].pk})
    assert good.status_code == 302
    with tenant_context(tenant_a):
        project.refresh_from_db()
        assert project.name == "改名后" and project.project_manager == people["pm"]
        handed_over = {"handed_over_on": timezone.localdate(), "stage": Stage.HANDOVER}
        Project.objects.filter(pk=project.pk).update(**handed_over)
    refused = client.post(url, {**form, "name": "交付后再改", "planned_end_on": "2026-09-01"})
    assert refused.status_code == 400 and "项目已交付，不能再修改" in refused.content.decode()
    with tenant_context(tenant_a):
        assert Project.objects.get(pk=project.pk).name == "改名后"
