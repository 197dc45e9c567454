"""Aftercare browser pages and the customer-page extensions."""

from __future__ import annotations

import datetime

import pytest
from django.test import RequestFactory
from django.utils import timezone

from aftercare import extensions
from aftercare.models import PlanStatus, ServiceTicket, Survey, Visit
from aftercare.services import dates, settings
from aftercare.services import plans as plans_services
from crm.extensions import customer_panels, customer_timeline
from crm.models import Role
from crm.tenancy import tenant_context
from tests.aftercare.factories import MaintenancePlanFactory, ServiceTicketFactory, SurveyFactory

pytestmark = pytest.mark.django_db

# The ticket time limits of the settings form (hours per priority), all required.
SLA_FORM = {
    "sla_urgent_first_response": "1",
    "sla_urgent_resolution": "12",
    "sla_high_first_response": "4",
    "sla_high_resolution": "72",
    "sla_normal_first_response": "24",
    "sla_normal_resolution": "168",
    "sla_low_first_response": "72",
    "sla_low_resolution": "480",
}


def _png(name: str):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def test_home_lists_overdue_and_upcoming_for_the_service_user(tenant_a, make_staff, session_client):
    me = make_staff(tenant_a, Role.SERVICE)
    today = dates.tenant_today(tenant_a)
    with tenant_context(tenant_a):
        overdue = MaintenancePlanFactory(
            tenant=tenant_a, assigned_to=me, due_on=today - datetime.timedelta(days=5)
        )
        soon = MaintenancePlanFactory(
            tenant=tenant_a, assigned_to=me, due_on=today + datetime.timedelta(days=20)
        )
        someone_elses = MaintenancePlanFactory(tenant=tenant_a, due_on=today + datetime.timedelta(days=3))
    page = session_client(me).get("/aftercare/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f"/aftercare/plans/{overdue.pk}/" in html and f"/aftercare/plans/{soon.pk}/" in html
    assert f"/aftercare/plans/{someone_elses.pk}/" not in html
    assert "已逾期" in html
    everyone = session_client(me).get("/aftercare/?assignee=").content.decode()
    assert f"/aftercare/plans/{someone_elses.pk}/" in everyone


def test_plan_page_books_then_completes_a_visit(tenant_a, make_staff, session_client):
    me = make_staff(tenant_a, Role.SERVICE)
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a, assigned_to=me)
    client = session_client(me)
    assert "预约上门" in client.get(f"/aftercare/plans/{plan.pk}/").content.decode()
    bad = client.post(f"/aftercare/plans/{plan.pk}/visits/", {"scheduled_at": "not a date"})
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()
    when = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    booked = client.post(f"/aftercare/plans/{plan.pk}/visits/", {"scheduled_at": when, "technician": me.pk})
    assert booked.status_code == 302
    with tenant_context(tenant_a):
        visit = Visit.objects.get(plan=plan)
    page = client.get(f"/aftercare/plans/{plan.pk}/").content.decode()
    assert "填写回访结果" in page and "检查电路" in page
    done = client.post(
        f"/aftercare/visits/{visit.pk}/complete/",
        {
            "check_0": "ok",
            "check_1": "issue",
            "note_1": "阀门滴水",
            "findings": "已处理",
            "satisfaction": "5",
            "customer_confirmed": "on",
            "customer_signature": "张先生",
            "photos": _png("after.png"),
        },
    )
    assert done.status_code == 302
    with tenant_context(tenant_a):
        plan.refresh_from_db()
        visit.refresh_from_db()
    assert plan.status == PlanStatus.COMPLETED
    assert visit.checklist_results[1] == {"item": "检查水路", "ok": False, "note": "阀门滴水"}
    with tenant_context(tenant_a):
        assert visit.photos.count() == 1
    # The history shows when the visit happened (completed today), not tomorrow's booked time.
    history = client.get(f"/aftercare/plans/{plan.pk}/").content.decode()
    done_at = timezone.localtime(visit.completed_at)
    assert f"上门完成 {done_at:%Y-%m-%d %H:%M}" in history
    assert f"预约 {timezone.localtime(visit.scheduled_at):%Y-%m-%d %H:%M}" in history


def test_other_tenants_plan_is_404(tenant_a, tenant_b, make_staff, session_client):
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a)
    other = make_staff(tenant_b, Role.SERVICE)
    assert session_client(other).get(f"/aftercare/plans/{plan.pk}/").status_code == 404


def test_ticket_queue_sorted_by_sla_and_create_form_errors(tenant_a, make_staff, session_client):
    me = make_staff(tenant_a, Role.SERVICE)
    now = timezone.now()
    with tenant_context(tenant_a):
        later = ServiceTicketFactory(
            tenant=tenant_a, first_response_due_at=now + datetime.timedelta(hours=20)
        )
        urgent = ServiceTicketFactory(
            tenant=tenant_a, first_response_due_at=now - datetime.timedelta(hours=1)
        )
        # answered already: its next deadline is the resolution, in 10 hours
        middle = ServiceTicketFactory(
            tenant=tenant_a,
            first_responded_at=now,
            status="in_progress",
            resolution_due_at=now + datetime.timedelta(hours=10),
        )
        resolved = ServiceTicketFactory(
            tenant=tenant_a,
            first_responded_at=now,
            resolved_at=now,
            status="resolved",
            first_response_due_at=now - datetime.timedelta(days=3),
        )
    client = session_client(me)
    html = client.get("/aftercare/tickets/").content.decode()
    assert html.index(f"#{urgent.pk}<") < html.index(f"#{middle.pk}<") < html.index(f"#{later.pk}<")
    assert f"#{resolved.pk}<" not in html
    everything = client.get("/aftercare/tickets/?show=all").content.decode()
    assert everything.index(f"#{later.pk}<") < everything.index(f"#{resolved.pk}<")
    bad = client.post(
        "/aftercare/tickets/", {"project": later.project_id, "category": "roof", "description": ""}
    )
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()
    with tenant_context(tenant_a):
        assert ServiceTicket.objects.count() == 4


def test_ticket_detail_transition_form(tenant_a, make_staff, session_client):
    me = make_staff(tenant_a, Role.SERVICE)
    with tenant_context(tenant_a):
        ticket = ServiceTicketFactory(tenant=tenant_a)
    client = session_client(me)
    response = client.post(f"/aftercare/tickets/{ticket.pk}/", {"status": "assigned", "assigned_to": me.pk})
    assert response.status_code == 302
    wrong = client.post(f"/aftercare/tickets/{ticket.pk}/", {"status": "reopened"})
    assert wrong.status_code == 400
    page = client.get(f"/aftercare/tickets/{ticket.pk}/").content.decode()
    assert "处理记录" in page


def test_survey_results_page(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        SurveyFactory(tenant=tenant_a, kind="nps", score=10, answered_at=timezone.now(), comment="很满意")
    page = session_client(manager_a).get("/aftercare/surveys/")
    assert page.status_code == 200 and "很满意" in page.content.decode()


def test_public_survey_page_answers_once(tenant_a, client):
    with tenant_context(tenant_a):
        survey = SurveyFactory(tenant=tenant_a, kind="csat", trigger="visit")
        expired = SurveyFactory(tenant=tenant_a, expires_at=timezone.now() - datetime.timedelta(days=1))
    url = f"/aftercare/s/{survey.token}/"
    assert "您对本次服务满意吗" in client.get(url).content.decode()
    out_of_range = client.post(url, {"score": "7"})
    assert out_of_range.status_code == 400
    assert client.post(url, {"score": "5", "comment": "好"}).status_code == 200
    assert client.post(url, {"score": "1"}).status_code == 400
    assert "已过期" in client.get(f"/aftercare/s/{expired.token}/").content.decode()
    assert client.get("/aftercare/s/bogus/").status_code == 404
    with tenant_context(tenant_a):
        assert Survey.objects.get(pk=survey.pk).score == 5


def test_customer_timeline_and_panel(tenant_a, manager_a):
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a)
        ticket = ServiceTicketFactory(tenant=tenant_a, project=plan.project, customer=plan.customer)
        entries = customer_timeline(tenant=tenant_a, customer_id=plan.customer_id)
        request = RequestFactory().get("/")
        request.user = manager_a
        panels = customer_panels(request=request, tenant=tenant_a, customer_id=plan.customer_id)
        direct = extensions.CUSTOMER_SECTION.read_panel(
            request=request, tenant=tenant_a, customer_id=plan.customer_id
        )
    assert any(entry.kind == "ticket" and f"#{ticket.pk}" in entry.title for entry in entries)
    assert direct is not None and plan.kind.name in direct.html
    assert any(panel.title == "售后服务" for panel in panels)


def test_manager_edits_offsets_warranty_and_adds_six_month_kind(
    tenant_a, manager_a, session_client, handed_over
):
    from aftercare.models import PlanKind

    client = session_client(manager_a)
    assert client.get("/aftercare/settings/").status_code == 200
    bad = client.post(
        "/aftercare/settings/",
        {
            "save_settings": "1",
            "reminder_offsets_days": "30,abc",
            "escalation_days_overdue": "30",
            "warranty_general": "2",
            "warranty_waterproofing": "5",
            "survey_link_days": "14",
            **SLA_FORM,
        },
    )
    assert bad.status_code == 400 and "errorlist" in bad.content.decode()
    # First response later than resolution: a form error on that field, nothing saved.
    late = client.post(
        "/aftercare/settings/",
        {
            "save_settings": "1",
            "reminder_offsets_days": "30",
            "escalation_days_overdue": "30",
            "warranty_general": "2",
            "warranty_waterproofing": "5",
            "survey_link_days": "14",
            **{**SLA_FORM, "sla_high_first_response": "100"},
        },
    )
    assert late.status_code == 400 and "首次响应时限不能晚于解决时限" in late.content.decode()
    ok = client.post(
        "/aftercare/settings/",
        {
            "save_settings": "1",
            "reminder_offsets_days": "14，3",
            "escalation_days_overdue": "20",
            "warranty_general": "3",
            "warranty_waterproofing": "8",
            "survey_link_days": "21",
            **SLA_FORM,
        },
    )
    assert ok.status_code == 302
    added = client.post(
        "/aftercare/settings/",
        {
            "kind_prefix": "new",
            "new-code": "month_6",
            "new-name": "半年回访",
            "new-months_after_handover": "6",
            "new-checklist": "检查门窗\n检查地漏",
            "new-is_active": "on",
        },
    )
    assert added.status_code == 302
    with tenant_context(tenant_a):
        config = settings.aftercare_settings_get(tenant=tenant_a)
        assert config.offsets() == [14, 3] and config.escalation_days_overdue == 20
        assert config.warranty_years_for("waterproofing") == 8 and config.warranty_years_for("tiles") == 3
        assert config.survey_link_days == 21
        assert config.sla_for("urgent") == {"first_response": 1, "resolution": 12}
        assert config.sla_for("low") == {"first_response": 72, "resolution": 480}
        year_1 = PlanKind.objects.get(code="year_1")
    edited = client.post(
        "/aftercare/settings/",
        {
            "kind_prefix": f"k{year_1.pk}",
            f"k{year_1.pk}-code": "hijack",
            f"k{year_1.pk}-name": "首年回访",
            f"k{year_1.pk}-months_after_handover": "12",
            f"k{year_1.pk}-checklist": "只查水电",
            f"k{year_1.pk}-is_active": "on",
        },
    )
    assert edited.status_code == 302
    project = handed_over(on=datetime.date(2025, 8, 31))
    with tenant_context(tenant_a):
        plans = {
            p.kind.code: p
            for p in plans_services.maintenance_plans_schedule(tenant=tenant_a, project=project)
        }
    assert plans["month_6"].due_on == datetime.date(2026, 2, 28)
    assert plans["year_1"].checklist == [{"item": "只查水电"}] and plans["year_1"].kind.name == "首年回访"
    assert "hijack" not in plans


def test_settings_page_is_for_managers_only(tenant_a, make_staff, session_client):
    assert session_client(make_staff(tenant_a, Role.SERVICE)).get("/aftercare/settings/").status_code == 403


def test_ticket_created_with_photo_from_the_page(tenant_a, make_staff, session_client, handed_over):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    from aftercare.models import TicketPhoto

    me = make_staff(tenant_a, Role.SERVICE)
    project = handed_over()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    photo = SimpleUploadedFile("leak.png", buffer.getvalue(), content_type="image/png")
    response = session_client(me).post(
        "/aftercare/tickets/",
        {
            "project": project.pk,
            "category": "plumbing",
            "priority": "high",
            "description": "水管渗水",
            "photos": photo,
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        ticket = ServiceTicket.objects.get()
        assert ticket.source == "staff" and TicketPhoto.objects.filter(ticket=ticket).count() == 1
    page = session_client(me).get(f"/aftercare/tickets/{ticket.pk}/").content.decode()
    assert "<img" in page
    not_an_image = SimpleUploadedFile("x.png", b"nope", content_type="image/png")
    bad = session_client(me).post(
        "/aftercare/tickets/",
        {
            "project": project.pk,
            "category": "plumbing",
            "priority": "high",
            "description": "x",
            "photos": not_an_image,
        },
    )
    assert bad.status_code == 400
    with tenant_context(tenant_a):
        assert ServiceTicket.objects.count() == 1


def test_dashboard_widget_shows_overdue_visits_and_nps(tenant_a, manager_a, session_client):
    today = dates.tenant_today(tenant_a)
    with tenant_context(tenant_a):
        MaintenancePlanFactory(tenant=tenant_a, due_on=today - datetime.timedelta(days=3))
        SurveyFactory(tenant=tenant_a, kind="nps", score=10, answered_at=timezone.now())
        request = RequestFactory().get("/")
        request.user = manager_a
        panel = extensions.dashboard_widget(request=request, tenant=tenant_a)
    assert panel is not None and "逾期未回访" in panel.html and "100" in panel.html
    page = session_client(manager_a).get("/dashboard/")
    assert page.status_code == 200 and "逾期未回访" in page.content.decode()


def test_customer_reports_a_repair_from_the_progress_link(tenant_a, manager_a, client, handed_over):
    from projects.services.share import share_link_create

    project = handed_over(on=dates.tenant_today(tenant_a) - datetime.timedelta(days=400))
    with tenant_context(tenant_a):
        _, token = share_link_create(tenant=tenant_a, project=project, created_by=manager_a)
    url = f"/aftercare/report/{token}/"
    assert project.name in client.get(url).content.decode()
    bad = client.post(url, {"category": "roof", "description": ""})
    assert bad.status_code == 400
    done = client.post(url, {"category": "waterproofing", "description": "主卫地漏返水", "urgent": "on"})
    assert done.status_code == 302  # post/redirect/get: a reload can't file the repair twice
    receipt = client.get(done["Location"])
    assert "已收到您的报修" in receipt.content.decode()
    client.get(done["Location"])
    with tenant_context(tenant_a):
        ticket = ServiceTicket.objects.get()
    assert (ticket.project_id, ticket.source, ticket.priority) == (project.pk, "customer", "urgent")
    assert ticket.under_warranty is True
    assert client.get("/aftercare/report/not-a-token/").status_code == 404
