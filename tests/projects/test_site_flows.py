"""One-handed site flows: from the workbench one tap opens the form (log, inspection with photos)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.tenancy import tenant_context
from projects.models import InspectionItem, SitePhoto
from projects.services import inspections
from tests.projects.factories import ProjectFactory, image_upload

pytestmark = pytest.mark.django_db


def test_workbench_links_straight_to_the_open_log_and_inspection_forms(session_client, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(
            tenant=tenant_a, signed=True, project_manager=people["pm"], supervisor=people["supervisor"]
        )
    detail = reverse("projects:detail", args=[project.pk])
    pm_home = session_client(people["pm"]).get("/").content.decode()
    assert f'href="{detail}?tab=logs&amp;open=log#log"' in pm_home
    assert "open=inspect" not in pm_home  # a project manager does not inspect
    client = session_client(people["supervisor"])
    home = client.get("/").content.decode()
    assert f'href="{detail}?tab=inspections&amp;open=inspect#inspect"' in home
    page = client.get(f"{detail}?tab=inspections&open=inspect").content.decode()
    assert '<details id="inspect" open>' in page and 'enctype="multipart/form-data"' in page
    assert 'capture="environment"' in page
    assert '<details id="inspect" >' in client.get(f"{detail}?tab=inspections").content.decode()


def test_inspection_item_fails_with_a_photo(session_client, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True, project_manager=people["pm"])
        checklist = inspections.checklist_items(tenant=tenant_a)
    first, second = checklist[0], checklist[1]
    data = {f"item_{item.pk}": "pass" for item in checklist}
    data[f"item_{second.pk}"] = "fail"
    data[f"hazard_{second.pk}"] = "插座未固定"
    data[f"photo_{second.pk}"] = image_upload("socket.jpg")
    data[f"photo_{first.pk}"] = image_upload("ok.png", fmt="PNG")
    client = session_client(people["manager"])
    response = client.post(reverse("projects:inspection-create", args=[project.pk]), data)
    assert response.status_code == 302
    with tenant_context(tenant_a):
        failed = InspectionItem.objects.get(inspection__project=project, passed=False)
        assert failed.title == second.title and failed.rectification.description == "插座未固定"
        assert [photo.inspection_item.title for photo in SitePhoto.objects.order_by("id")] == [
            first.title,
            second.title,
        ]
    bad = dict(data)
    bad[f"photo_{second.pk}"] = image_upload("x.gif", fmt="GIF")
    bad[f"photo_{first.pk}"] = image_upload("ok.png", fmt="PNG")
    refused = client.post(reverse("projects:inspection-create", args=[project.pk]), bad)
    assert refused.status_code == 400 and "errorlist" in refused.content.decode()
    with tenant_context(tenant_a):
        assert SitePhoto.objects.count() == 2  # nothing half-written
