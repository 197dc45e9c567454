"""The aftercare API: flat routes, 400 shape, 404 across tenants, constant query counts."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from aftercare.models import MaintenancePlan, PlanStatus, ServiceTicket, TicketEvent, Visit
from crm.models import Role
from crm.tenancy import tenant_context
from tests.aftercare.factories import (
    HandedOverProjectFactory,
    MaintenancePlanFactory,
    ServiceTicketFactory,
    SurveyFactory,
    VisitFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def service_client(tenant_a, make_staff, api_client_for):
    return api_client_for(make_staff(tenant_a, Role.SERVICE))


def _errors(response) -> dict:
    body = response.json()
    assert set(body) == {"detail", "errors", "codes"} and set(body["codes"]) == set(body["errors"])
    return body["errors"]


def test_plan_list_filters_and_reassign_and_consent(tenant_a, service_client, make_staff):
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a)
        MaintenancePlanFactory(tenant=tenant_a)
    response = service_client.get(f"/api/v1/aftercare/plans/?project={plan.project_id}")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [plan.pk]
    other = make_staff(tenant_a, Role.SERVICE)
    response = service_client.patch(
        f"/api/v1/aftercare/plans/{plan.pk}/",
        {"assigned_to": other.pk, "customer_reminder_consent": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["assigned_to"] == other.pk
    assert response.json()["customer_reminder_consent_at"] is not None


@pytest.mark.parametrize("page_size", [2, 8])
def test_plan_and_ticket_lists_have_constant_queries(
    tenant_a, service_client, django_assert_max_num_queries, page_size
):
    with tenant_context(tenant_a):
        for _ in range(8):
            MaintenancePlanFactory(tenant=tenant_a)
            ServiceTicketFactory(tenant=tenant_a)
            VisitFactory(tenant=tenant_a)
    for url in ("/api/v1/aftercare/plans/", "/api/v1/aftercare/tickets/", "/api/v1/aftercare/visits/"):
        with django_assert_max_num_queries(12):
            response = service_client.get(f"{url}?page_size={page_size}")
        assert response.status_code == 200 and len(response.json()["results"]) == page_size


def test_visit_book_and_complete_and_closed_plan_is_400(tenant_a, service_client):
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a)
    when = (timezone.now() + datetime.timedelta(days=2)).isoformat()
    response = service_client.post(
        "/api/v1/aftercare/visits/",
        {"plan": plan.pk, "scheduled_at": when, "technician": service_client.user.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    visit_id = response.json()["id"]
    bad = service_client.post(
        f"/api/v1/aftercare/visits/{visit_id}/complete/", {"satisfaction": 9}, format="json"
    )
    assert bad.status_code == 400 and "satisfaction" in _errors(bad)
    done = service_client.post(
        f"/api/v1/aftercare/visits/{visit_id}/complete/",
        {
            "satisfaction": 4,
            "findings": "良好",
            "customer_confirmed": True,
            "checklist_results": [{"item": "检查电路", "ok": True}],
        },
        format="json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed"
    again = service_client.post(
        "/api/v1/aftercare/visits/", {"plan": plan.pk, "scheduled_at": when}, format="json"
    )
    assert again.status_code == 400 and "plan" in _errors(again)
    with tenant_context(tenant_a):
        assert MaintenancePlan.objects.get(pk=plan.pk).status == PlanStatus.COMPLETED
        assert Visit.objects.count() == 1


def test_ticket_for_another_tenants_project_is_400_and_nothing_written(tenant_a, tenant_b, service_client):
    with tenant_context(tenant_b):
        foreign = HandedOverProjectFactory(tenant=tenant_b)
    response = service_client.post(
        "/api/v1/aftercare/tickets/",
        {"project": foreign.pk, "category": "plumbing", "description": "漏水"},
        format="json",
    )
    assert response.status_code == 400 and "project" in _errors(response)
    with tenant_context(tenant_a):
        assert ServiceTicket.objects.count() == 0


def test_ticket_create_transition_and_history(tenant_a, service_client):
    with tenant_context(tenant_a):
        project = HandedOverProjectFactory(tenant=tenant_a, handed_over_on=timezone.localdate())
    response = service_client.post(
        "/api/v1/aftercare/tickets/",
        {
            "project": project.pk,
            "category": "waterproofing",
            "description": "卫生间渗水",
            "priority": "urgent",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    ticket = response.json()
    assert ticket["under_warranty"] is True and ticket["source"] == "api"
    bad = service_client.post(
        f"/api/v1/aftercare/tickets/{ticket['id']}/transition/", {"status": "closed_x"}, format="json"
    )
    assert bad.status_code == 400 and "status" in _errors(bad)
    wrong = service_client.post(
        f"/api/v1/aftercare/tickets/{ticket['id']}/transition/", {"status": "reopened"}, format="json"
    )
    assert wrong.status_code == 400 and "status" in _errors(wrong)
    ok = service_client.post(
        f"/api/v1/aftercare/tickets/{ticket['id']}/transition/",
        {"status": "assigned", "assigned_to": service_client.user.pk, "note": "已联系客户"},
        format="json",
    )
    assert ok.status_code == 200, ok.content
    assert [e["to_status"] for e in ok.json()["events"]] == ["open", "assigned"]
    with tenant_context(tenant_a):
        assert TicketEvent.objects.filter(ticket_id=ticket["id"]).count() == 2


def test_survey_list_and_create(tenant_a, make_staff, token_client):
    manager = make_staff(tenant_a, Role.MANAGER)
    client = token_client(manager)
    with tenant_context(tenant_a):
        survey = SurveyFactory(tenant=tenant_a)
        project = HandedOverProjectFactory(tenant=tenant_a)
    listed = client.get("/api/v1/surveys/")
    assert listed.status_code == 200 and survey.pk in [row["id"] for row in listed.json()["results"]]
    # A manager may send surveys, so may read the link to deliver it through their own channel.
    row = next(row for row in listed.json()["results"] if row["id"] == survey.pk)
    assert row["token"] == survey.token and row["public_url"].endswith(f"/aftercare/s/{survey.token}/")
    created = client.post(
        "/api/v1/surveys/",
        {"customer": project.customer_id, "project": project.pk, "kind": "nps", "trigger": "yearly"},
        format="json",
    )
    assert created.status_code == 201, created.content


def test_roles_without_permission_are_refused(tenant_a, make_staff, api_client_for):
    designer = api_client_for(make_staff(tenant_a, Role.DESIGNER))
    assert designer.get("/api/v1/aftercare/plans/").status_code == 200
    with tenant_context(tenant_a):
        project = HandedOverProjectFactory(tenant=tenant_a)
    response = designer.post(
        "/api/v1/aftercare/tickets/",
        {"project": project.pk, "category": "tiles", "description": "x"},
        format="json",
    )
    assert response.status_code == 403
    assert designer.get("/api/v1/surveys/").status_code == 403


def _png_file(name="p.png"):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_photo_uploads_for_visits_and_tickets(tenant_a, service_client):
    with tenant_context(tenant_a):
        visit = VisitFactory(tenant=tenant_a)
        ticket = ServiceTicketFactory(tenant=tenant_a)
    response = service_client.post(
        f"/api/v1/aftercare/visits/{visit.pk}/photos/",
        {"image": _png_file(), "caption": "完工"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    assert len(response.json()["photos"]) == 1
    response = service_client.post(
        f"/api/v1/aftercare/tickets/{ticket.pk}/photos/", {"image": _png_file()}, format="multipart"
    )
    assert response.status_code == 201 and len(response.json()["photos"]) == 1
    bad = service_client.post(
        f"/api/v1/aftercare/tickets/{ticket.pk}/photos/", {"image": "not a file"}, format="multipart"
    )
    assert bad.status_code == 400 and "image" in _errors(bad)
