"""The signing gate (issue 14 §5): required steps before signing, a manager's override recorded in the
stage history, and the requirements registered by projects (measurement), quotes (accepted
quotation) and sales (a completed 量房 appointment counts as measurement)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm.tenancy import tenant_context
from projects.models import SigningPolicy, Stage, StageHistory
from projects.services import signing, stages
from sales.models import Appointment
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory
from tests.quotes.factories import make_quotation
from tests.sales.factories import make_appointment

pytestmark = pytest.mark.django_db

SIGN = {"contract_number": "HT-2026-0100", "contract_amount_fen": 18_600_000, "signed_on": "2026-01-30"}


@pytest.fixture
def defaults(tenant_a):
    """The real default policy: a tenant without a policy row requires measurement and a quotation."""
    with tenant_context(tenant_a):
        SigningPolicy.objects.all().delete()


@pytest.fixture
def project(tenant_a, people, defaults):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=people["sales"])
        return ProjectFactory(tenant=tenant_a, customer=customer, designer=people["designer"])


def _history(tenant, project):
    with tenant_context(tenant):
        return list(StageHistory.objects.filter(project=project).order_by("changed_at", "id"))


def test_signing_from_consultation_is_refused_with_the_missing_steps(tenant_a, people, project, api_as):
    response = api_as(people["manager"]).post(f"/api/v1/projects/{project.pk}/sign/", SIGN, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["codes"]["requirements"] == ["missing_measurement", "missing_accepted_quotation"]
    assert len(body["errors"]["requirements"]) == 2
    with tenant_context(tenant_a):
        project.refresh_from_db()
    assert (project.signed_on, project.stage, project.contract_number) == (None, Stage.CONSULTATION, None)
    assert _history(tenant_a, project) == []


def test_only_a_manager_may_override_and_the_override_is_in_the_history(tenant_a, people, project, api_as):
    body = {**SIGN, "override_reason": "客户已线下确认报价，急于开工"}
    refused = api_as(people["sales"]).post(f"/api/v1/projects/{project.pk}/sign/", body, format="json")
    assert refused.status_code == 403
    response = api_as(people["manager"]).post(f"/api/v1/projects/{project.pk}/sign/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["stage"] == Stage.CONTRACT_SIGNED
    (row,) = _history(tenant_a, project)
    assert (row.from_stage, row.to_stage, row.changed_by_id) == (
        Stage.CONSULTATION,
        Stage.CONTRACT_SIGNED,
        people["manager"].pk,
    )
    assert "客户已线下确认报价，急于开工" in row.reason
    assert "已完成量房" in row.reason and "客户已接受报价" in row.reason


def test_signing_passes_once_measurement_and_an_accepted_quotation_exist(tenant_a, people, project, api_as):
    with tenant_context(tenant_a):
        for stage in (Stage.MEASUREMENT, Stage.DESIGN):
            project = stages.project_move_stage(
                tenant=tenant_a, project=project, to_stage=stage, moved_by=people["manager"]
            )
        make_quotation(tenant_a, customer=project.customer, project=project, status="sent")
        assert [s.key for s in signing.missing_signing_steps(tenant=tenant_a, project=project)] == [
            "accepted_quotation"
        ]
    client = api_as(people["manager"])
    assert client.post(f"/api/v1/projects/{project.pk}/sign/", SIGN, format="json").status_code == 400
    with tenant_context(tenant_a):
        make_quotation(tenant_a, customer=project.customer, project=project, status="accepted")
    response = client.post(f"/api/v1/projects/{project.pk}/sign/", SIGN, format="json")
    assert response.status_code == 200, response.content
    last = _history(tenant_a, project)[-1]
    assert (last.to_stage, last.reason) == (Stage.CONTRACT_SIGNED, "合同签订")


def test_a_completed_measure_appointment_counts_as_measurement(tenant_a, people, project):
    with tenant_context(tenant_a):
        make_quotation(tenant_a, customer=project.customer, project=project, status="accepted")
        assert [s.key for s in signing.missing_signing_steps(tenant=tenant_a, project=project)] == [
            "measurement"
        ]
        appointment = make_appointment(
            tenant_a,
            customer=project.customer,
            project=project,
            starts_at=timezone.now() - datetime.timedelta(days=2),
        )
        assert signing.missing_signing_steps(tenant=tenant_a, project=project)  # scheduled is not done
        Appointment.objects.filter(pk=appointment.pk).update(status="done")
        assert signing.missing_signing_steps(tenant=tenant_a, project=project) == []


def test_tenant_chooses_the_required_steps_on_the_settings_page(tenant_a, people, project, session_client):
    client = session_client(people["manager"])
    page = client.get("/projects/signing-settings/").content.decode()
    assert 'value="measurement"' in page and 'value="accepted_quotation"' in page
    response = client.post("/projects/signing-settings/", {"required_steps": ["measurement"]})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert signing.required_signing_steps(tenant=tenant_a) == ["measurement"]
    refused = client.post(
        f"/projects/{project.pk}/sign/",
        {"contract_number": "HT-1", "contract_amount_fen": "186000", "signed_on": "2026-01-30"},
    )
    assert refused.status_code == 400 and "签约前还需完成" in refused.content.decode()
    with tenant_context(tenant_a):
        project.refresh_from_db()
        assert project.signed_on is None
    client.post("/projects/signing-settings/", {})
    with tenant_context(tenant_a):
        assert signing.required_signing_steps(tenant=tenant_a) == []
    signed = client.post(
        f"/projects/{project.pk}/sign/",
        {"contract_number": "HT-1", "contract_amount_fen": "186000", "signed_on": "2026-01-30"},
    )
    assert signed.status_code == 302
    with tenant_context(tenant_a):
        project.refresh_from_db()
        assert project.signed_on is not None
    sales_page = session_client(people["sales"]).get("/projects/signing-settings/")
    assert sales_page.status_code == 403


def test_signing_policy_api(tenant_a, people, defaults, api_as):
    manager = api_as(people["manager"])
    current = manager.get("/api/v1/signing-policy/current/").json()
    assert current["required_steps"] == ["measurement", "accepted_quotation"]
    assert {step["key"] for step in current["available_steps"]} >= {"measurement", "accepted_quotation"}
    bad = manager.put("/api/v1/signing-policy/current/", {"required_steps": ["fly"]}, format="json")
    assert bad.status_code == 400 and bad.json()["codes"]["required_steps"] == ["unknown_step"]
    ok = manager.put(
        "/api/v1/signing-policy/current/", {"required_steps": ["accepted_quotation"]}, format="json"
    )
    assert ok.status_code == 200 and ok.json()["required_steps"] == ["accepted_quotation"]
    sales = api_as(people["sales"]).put(
        "/api/v1/signing-policy/current/", {"required_steps": []}, format="json"
    )
    assert sales.status_code == 403


def test_the_accepted_quotation_total_is_the_contract_amount(tenant_a, people, project, api_as):
    with tenant_context(tenant_a):
        for stage in (Stage.MEASUREMENT, Stage.DESIGN):
            project = stages.project_move_stage(
                tenant=tenant_a, project=project, to_stage=stage, moved_by=people["manager"]
            )
        accepted = make_quotation(
            tenant_a,
            customer=project.customer,
            project=project,
            status="accepted",
            lines=[("整装", 12_345_678, 1)],
        )
    client = api_as(people["manager"])
    body = {"contract_number": "HT-2026-0200", "signed_on": "2026-01-30"}
    response = client.post(f"/api/v1/projects/{project.pk}/sign/", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["contract_amount_fen"] == accepted.total_fen == 12_345_678
    with tenant_context(tenant_a):
        other = ProjectFactory(tenant=tenant_a, customer=project.customer)
    refused = client.post(
        f"/api/v1/projects/{other.pk}/sign/",
        {"contract_number": "HT-2026-0201", "signed_on": "2026-01-30", "override_reason": "老客户"},
        format="json",
    )
    assert refused.status_code == 400
    assert refused.json()["codes"]["contract_amount_fen"] == ["contract_amount_required"]


def test_sign_form_offers_the_accepted_quotation_total(tenant_a, people, project, session_client):
    with tenant_context(tenant_a):
        make_quotation(
            tenant_a,
            customer=project.customer,
            project=project,
            status="accepted",
            lines=[("整装", 9_900_050, 1)],
        )
    page = session_client(people["manager"]).get(f"/projects/{project.pk}/").content.decode()
    assert 'value="99000.50"' in page
    assert "签约前还需完成" in page  # measurement is still missing
