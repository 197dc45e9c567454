"""Settings a manager changes in the browser are readable and writable through the API (module
``settings`` for tokens, managers only), with the page's validation."""

from __future__ import annotations

import pytest

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import CustomerSettings


@pytest.fixture
def manager_api(manager_a, token_client):
    return token_client(manager_a)


def test_customer_settings_read_and_write(tenant_a, manager_api):
    current = manager_api.get("/api/v1/customer-settings/")
    assert current.status_code == 200
    body = current.json()
    assert body["lead_response_sla_minutes"] == 15 and body["business_days"] == [0, 1, 2, 3, 4, 5, 6]
    changed = manager_api.patch(
        "/api/v1/customer-settings/",
        {
            "business_hours_start": "08:30",
            "lead_response_sla_minutes": 30,
            "pool_after_minutes": 240,
            "budget_high_from_fen": 40_000_000,
            "business_days": [0, 1, 2, 3, 4],
        },
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["business_hours_start"] == "08:30:00"
    tenant_a.refresh_from_db()
    assert tenant_a.lead_response_sla_minutes == 30
    with tenant_context(tenant_a):
        row = CustomerSettings.objects.get()
        assert row.pool_after_minutes == 240 and row.budget_high_from_fen == 40_000_000
        assert row.business_days == [0, 1, 2, 3, 4]
    # The page's cross-field rules apply: nothing written, 400 with a code.
    bad = manager_api.patch(
        "/api/v1/customer-settings/",
        {"budget_low_below_fen": 90_000_000, "budget_high_from_fen": 100},
        format="json",
    )
    assert bad.status_code == 400 and "budget_high_from_fen" in bad.json()["codes"]
    with tenant_context(tenant_a):
        assert CustomerSettings.objects.get().budget_low_below_fen != 90_000_000
    assert (
        manager_api.put("/api/v1/customer-settings/", {"auto_assign": False}, format="json").status_code
        == 400
    )
    full = {**manager_api.get("/api/v1/customer-settings/").json(), "auto_assign": False}
    assert manager_api.put("/api/v1/customer-settings/", full, format="json").json()["auto_assign"] is False


def test_stage_settings_read_and_write(tenant_a, manager_api):
    stages = manager_api.get("/api/v1/stage-settings/").json()
    assert len(stages) >= 5 and [row["index"] for row in stages] == list(range(len(stages)))
    first = stages[0]
    changed = manager_api.patch(
        "/api/v1/stage-settings/",
        [{"stage": first["stage"], "name": "量房", "planned_days": 3}],
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()[0]["name"] == "量房" and changed.json()[0]["planned_days"] == 3
    partial_put = manager_api.put("/api/v1/stage-settings/", [stages[1]], format="json")
    assert partial_put.status_code == 400
    bad = manager_api.patch(
        "/api/v1/stage-settings/",
        [{"stage": first["stage"], "name": "x", "planned_days": 999}],
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["codes"]


def test_settings_need_the_settings_scope_and_a_manager(
    tenant_a, manager_a, make_staff, token_client, client
):
    customers_only = token_client(manager_a, scopes=["customers:write", "projects:write"])
    for path in ("/api/v1/customer-settings/", "/api/v1/stage-settings/"):
        assert customers_only.get(path).status_code == 403, path
    reader = token_client(manager_a, scopes=["settings:read"])
    assert reader.get("/api/v1/customer-settings/").status_code == 200
    assert (
        reader.patch("/api/v1/customer-settings/", {"auto_assign": False}, format="json").status_code == 403
    )
    sales = make_staff(tenant_a, Role.SALES)
    client.force_login(sales, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/api/v1/customer-settings/").status_code == 403
    assert client.get("/api/v1/stage-settings/").status_code == 403


def test_aftercare_settings_and_plan_kinds(tenant_a, manager_api):
    current = manager_api.get("/api/v1/aftercare-settings/").json()
    assert current["reminder_offsets_days"] and current["warranty_years"]["general"] >= 0
    changed = manager_api.patch(
        "/api/v1/aftercare-settings/",
        {"reminder_offsets_days": [14, 3], "warranty_years": {"general": 3, "waterproofing": 6}},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["reminder_offsets_days"] == [14, 3]
    assert changed.json()["warranty_years"]["waterproofing"] == 6
    bad = manager_api.patch("/api/v1/aftercare-settings/", {"warranty_years": {"roof": 3}}, format="json")
    assert bad.status_code == 400 and bad.json()["codes"]["warranty_years"]
    # Ticket time limits per priority and the survey link validity: a partial update keeps the rest.
    assert current["sla_hours"]["urgent"] == {"first_response": 2, "resolution": 24}
    limits = manager_api.patch(
        "/api/v1/aftercare-settings/",
        {"sla_hours": {"urgent": {"first_response": 1, "resolution": 8}}, "survey_link_days": 30},
        format="json",
    )
    assert limits.status_code == 200, limits.content
    assert limits.json()["sla_hours"]["urgent"] == {"first_response": 1, "resolution": 8}
    assert limits.json()["sla_hours"]["normal"] == {"first_response": 24, "resolution": 168}
    assert limits.json()["survey_link_days"] == 30 and limits.json()["reminder_offsets_days"] == [14, 3]
    from aftercare.services import settings as aftercare_settings
    from crm.tenancy import tenant_context

    with tenant_context(tenant_a):
        config = aftercare_settings.aftercare_settings_get(tenant=tenant_a)
        assert config.sla_for("urgent") == {"first_response": 1, "resolution": 8}
        assert config.survey_link_days == 30
    inverted = manager_api.patch(
        "/api/v1/aftercare-settings/",
        {"sla_hours": {"high": {"first_response": 80, "resolution": 72}}},
        format="json",
    )
    assert inverted.status_code == 400 and "sla_hours" in inverted.json()["errors"]
    for wrong in ({"survey_link_days": 0}, {"sla_hours": {"high": {"first_response": 0, "resolution": 5}}}):
        assert manager_api.patch("/api/v1/aftercare-settings/", wrong, format="json").status_code == 400
    kinds = manager_api.get("/api/v1/aftercare-plan-kinds/").json()
    assert len(kinds) >= 3
    six_months = {"code": "m6", "name": "半年检查", "months_after_handover": 6, "checklist": ["水电"]}
    saved = manager_api.patch("/api/v1/aftercare-plan-kinds/", [six_months], format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()[0]["code"] == "m6" and len(saved.json()) == len(kinds) + 1
    too_late = {**six_months, "months_after_handover": 999}
    assert manager_api.patch("/api/v1/aftercare-plan-kinds/", [too_late], format="json").status_code == 400
