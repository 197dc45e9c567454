"""API: explicit actions, 400 shapes with nothing written, filters, flat child routes, query counts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from crm.tenancy import tenant_context
from projects.models import Acceptance, ChangeOrder, DailyLog, Project, SitePhoto, Stage, StageHistory
from projects.services import change_orders, inspections
from projects.services import logs as logs_services
from tests.customers.factories import CustomerFactory
from tests.projects.factories import (
    ChangeOrderFactory,
    DailyLogFactory,
    MaterialFactory,
    ProjectFactory,
    image_upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(tenant_a, people):
    """An API client per role (tokens are issued by the manager, acting as each user)."""
    from rest_framework.test import APIClient

    from crm.services import api_token_create

    clients = {}
    for role, user in people.items():
        with tenant_context(tenant_a):
            _, plaintext = api_token_create(
                tenant=tenant_a, created_by=people["manager"], name=role, user=user
            )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
        clients[role] = client
    return clients


def test_create_project_and_advance_via_actions(api, tenant_a, people):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    response = api["sales"].post(
        "/api/v1/projects/",
        {"customer": customer.pk, "name": "绿地海珀 2-1801", "area_sqm": "128.5", "style": "北欧"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    pk = response.json()["id"]
    assert response.json()["stage"] == Stage.CONSULTATION
    # stage is not writable as a field
    api["manager"].patch(f"/api/v1/projects/{pk}/", {"stage": Stage.HANDOVER}, format="json")
    with tenant_context(tenant_a):
        assert Project.objects.get(pk=pk).stage == Stage.CONSULTATION
    response = api["designer"].post(f"/api/v1/projects/{pk}/advance/", {}, format="json")
    assert response.status_code == 200 and response.json()["stage"] == Stage.MEASUREMENT
    response = api["designer"].post(
        f"/api/v1/projects/{pk}/advance/", {"to_stage": "quotation"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors", "codes"} and "to_stage" in body["errors"]
    response = api["designer"].post(
        f"/api/v1/projects/{pk}/advance/", {"to_stage": "consultation"}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()["errors"]
    response = api["pm"].post(f"/api/v1/projects/{pk}/advance/", {}, format="json")
    assert response.status_code == 403
    response = api["sales"].post(
        f"/api/v1/projects/{pk}/sign/",
        {
            "contract_number": "HT-2026-001",
            "contract_amount_fen": 186000,
            "signed_on": str(timezone.localdate()),
        },
        format="json",
    )
    assert response.status_code == 200 and response.json()["stage"] == Stage.CONTRACT_SIGNED
    history = api["manager"].get(f"/api/v1/project-stages/?project={pk}").json()["results"]
    assert [row["to_stage"] for row in history] == ["contract_signed", "measurement", "consultation"]


def test_project_for_another_tenants_customer_is_refused(api, tenant_b):
    with tenant_context(tenant_b):
        foreign = CustomerFactory(tenant=tenant_b)
    response = api["manager"].post("/api/v1/projects/", {"customer": foreign.pk, "name": "x"}, format="json")
    assert response.status_code == 400 and "customer" in response.json()["errors"]


def test_handover_action_gated_then_idempotent(api, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True, stage=Stage.COMPLETION_ACCEPTANCE)
    response = api["pm"].post(f"/api/v1/projects/{project.pk}/handover/", {}, format="json")
    assert response.status_code == 400 and "stage" in response.json()["errors"]
    response = api["supervisor"].post(
        f"/api/v1/projects/{project.pk}/acceptance/", {"kind": "completion", "passed": True}, format="json"
    )
    assert response.status_code == 201
    first = api["pm"].post(
        f"/api/v1/projects/{project.pk}/handover/", {"handed_over_on": "2026-11-20"}, format="json"
    )
    second = api["pm"].post(
        f"/api/v1/projects/{project.pk}/handover/", {"handed_over_on": "2026-11-25"}, format="json"
    )
    assert first.status_code == second.status_code == 200
    assert second.json()["handed_over_on"] == "2026-11-20" and second.json()["stage"] == Stage.HANDOVER
    with tenant_context(tenant_a):
        assert StageHistory.objects.filter(project=project, to_stage=Stage.HANDOVER).count() == 1
        assert Acceptance.objects.filter(project=project).count() == 1


def test_change_order_api_flow_and_immutability(api, tenant_a):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True, contract_amount_fen=100000)
    response = api["pm"].post(
        "/api/v1/change-orders/",
        {
            "project": project.pk,
            "title": "增加地暖",
            "reason": "客户要求",
            "lines": [{"description": "水地暖", "quantity": "45", "unit": "㎡", "unit_price_fen": 160}],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    co = response.json()
    assert co["amount_delta_fen"] == 7200 and co["status"] == "draft"
    assert api["pm"].post(f"/api/v1/change-orders/{co['id']}/send/").status_code == 200
    decide = {"approve": True, "channel": "staff_in_person", "note": "客户到店签字"}
    response = api["manager"].post(f"/api/v1/change-orders/{co['id']}/decide/", decide, format="json")
    assert response.status_code == 200 and response.json()["status"] == "approved"
    again = api["manager"].post(
        f"/api/v1/change-orders/{co['id']}/decide/", {**decide, "approve": False}, format="json"
    )
    assert again.status_code == 400 and "status" in again.json()["errors"]
    patch = api["pm"].patch(f"/api/v1/change-orders/{co['id']}/", {"title": "改"}, format="json")
    assert patch.status_code == 400
    project_json = api["manager"].get(f"/api/v1/projects/{project.pk}/").json()
    assert project_json["budget_fen"] == 107200
    with tenant_context(tenant_a):
        assert ChangeOrder.objects.get(pk=co["id"]).title == "增加地暖"


def test_daily_log_multipart_upload_and_bad_upload_writes_nothing(api, tenant_a):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    good = {
        "project": project.pk,
        "log_date": str(timezone.localdate()),
        "work_done": "水电验收前自检",
        "workers_on_site": 4,
        "upload": [image_upload("a.jpg"), image_upload("b.png", "PNG")],
    }
    response = api["pm"].post("/api/v1/daily-logs/", good, format="multipart")
    assert response.status_code == 201, response.json()
    assert len(response.json()["photos"]) == 2
    from django.core.files.uploadedfile import SimpleUploadedFile

    bad = {
        **good,
        "upload": [
            image_upload("c.jpg"),
            SimpleUploadedFile("d.jpg", b"not an image", content_type="image/jpeg"),
        ],
    }
    response = api["pm"].post("/api/v1/daily-logs/", bad, format="multipart")
    assert response.status_code == 400
    assert "不是有效的图片" in str(response.json()["errors"]["upload"])
    with tenant_context(tenant_a):
        assert DailyLog.objects.count() == 1 and SitePhoto.objects.count() == 2


def test_child_routes_filter_by_project(api, tenant_a):
    with tenant_context(tenant_a):
        one, two = ProjectFactory(tenant=tenant_a), ProjectFactory(tenant=tenant_a)
        DailyLogFactory(tenant=tenant_a, project=one)
        DailyLogFactory(tenant=tenant_a, project=two)
        MaterialFactory(tenant=tenant_a, project=two)
    logs = api["manager"].get(f"/api/v1/daily-logs/?project={one.pk}").json()["results"]
    assert [log["project"] for log in logs] == [one.pk]
    materials = api["manager"].get(f"/api/v1/materials/?project={one.pk}").json()["results"]
    assert materials == []
    assert api["manager"].get("/api/v1/daily-logs/?project=abc").status_code == 400


def test_inspection_api_opens_rectification_closed_by_reinspection(api, tenant_a, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, project_manager=people["pm"], stage=Stage.MASONRY)
    body = {
        "project": project.pk,
        "items": [
            {"title": "墙砖空鼓率", "passed": True},
            {"title": "卫生间防水上翻", "passed": False, "hazard": "淋浴区防水需再上翻 5cm"},
            {"title": "地漏坡度", "passed": True},
            {"title": "成品保护", "passed": True},
        ],
    }
    response = api["supervisor"].post("/api/v1/inspections/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["score"] == 75
    rects = api["supervisor"].get(f"/api/v1/rectifications/?project={project.pk}").json()["results"]
    assert len(rects) == 1 and rects[0]["status"] == "open" and rects[0]["owner"] == people["pm"].pk
    rid = rects[0]["id"]
    fail = api["supervisor"].post(
        f"/api/v1/rectifications/{rid}/reinspect/", {"passed": False, "note": "仍不足"}, format="json"
    )
    assert fail.status_code == 200 and fail.json()["status"] == "open"
    ok = api["supervisor"].post(f"/api/v1/rectifications/{rid}/reinspect/", {"passed": True}, format="json")
    assert ok.json()["status"] == "closed"
    again = api["supervisor"].post(
        f"/api/v1/rectifications/{rid}/reinspect/", {"passed": True}, format="json"
    )
    assert again.status_code == 400
    assert api["pm"].post("/api/v1/inspections/", body, format="json").status_code == 403


def test_share_link_api_token_once_and_revoke(api, tenant_a, client):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    response = api["pm"].post(f"/api/v1/projects/{project.pk}/share/", {"valid_days": 30}, format="json")
    assert response.status_code == 201
    token, link_id = response.json()["token"], response.json()["id"]
    assert client.get(response.json()["url"]).status_code == 200
    listed = api["pm"].get(f"/api/v1/share-links/?project={project.pk}").json()["results"]
    assert "token" not in listed[0]
    assert api["pm"].post(f"/api/v1/share-links/{link_id}/revoke/").status_code == 200
    assert client.get(response.json()["url"]).status_code == 404
    assert token


@pytest.mark.parametrize("url", ["/api/v1/projects/", "/api/v1/change-orders/", "/api/v1/daily-logs/"])
def test_lists_have_constant_query_count(api, tenant_a, people, url, django_assert_max_num_queries):
    def seed(n):
        with tenant_context(tenant_a):
            for _ in range(n):
                project = ProjectFactory(tenant=tenant_a, signed=True, project_manager=people["pm"])
                co = ChangeOrderFactory(tenant=tenant_a, project=project)
                change_orders.change_order_update(
                    tenant=tenant_a,
                    change_order=co,
                    updated_by=people["pm"],
                    lines=[{"description": "x", "quantity": 1, "unit_price_fen": 10}],
                )
                logs_services.daily_log_create(
                    tenant=tenant_a,
                    project=project,
                    author=people["pm"],
                    log_date=timezone.localdate(),
                    work_done="x",
                    photos=[image_upload()],
                )

    client = api["manager"]
    seed(2)
    client.get(url)  # warm-up (token lookup caches etc.)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        assert client.get(url).status_code == 200
    seed(6)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.json()["count"] >= 8


def test_inspection_item_photo_upload(api, tenant_a, people):
    from django.core.files.uploadedfile import SimpleUploadedFile

    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, project_manager=people["pm"])
        inspection = inspections.inspection_record(
            tenant=tenant_a,
            project=project,
            inspector=people["supervisor"],
            items=[{"title": "防水上翻", "passed": False, "hazard": "需再上翻 5cm"}],
        )
        item = inspection.items.get()
    url = f"/api/v1/inspections/{inspection.pk}/photos/"
    ok = api["supervisor"].post(url, {"item": item.pk, "upload": image_upload()}, format="multipart")
    assert ok.status_code == 201, ok.json()
    bad = api["supervisor"].post(
        url,
        {"item": item.pk, "upload": SimpleUploadedFile("x.jpg", b"nope", content_type="image/jpeg")},
        format="multipart",
    )
    assert bad.status_code == 400 and "upload" in bad.json()["errors"]
    with tenant_context(tenant_a):
        other = inspections.inspection_record(
            tenant=tenant_a,
            project=project,
            inspector=people["supervisor"],
            items=[{"title": "x", "passed": True}],
        )
        other_item = other.items.get()
    wrong = api["supervisor"].post(url, {"item": other_item.pk, "upload": image_upload()}, format="multipart")
    assert wrong.status_code == 400 and "item" in wrong.json()["errors"]
    with tenant_context(tenant_a):
        assert SitePhoto.objects.filter(inspection_item=item).count() == 1
