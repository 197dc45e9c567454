"""The customer's e-mail address: validation and normalisation, masking by contact rights (API, lean
list, pages), intake, import/export, the PIPL export and anonymisation."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, mask_email
from customers.services import privacy
from customers.services import settings as settings_services
from customers.services.customers import customer_update
from engagement.models import Consent, ConsentChannel, ConsentSource
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_mask_keeps_the_first_letter_and_the_domain():
    assert mask_email("zhang.wei@example.com") == "z***@example.com"
    assert mask_email("a@qq.com") == "a***@qq.com"
    assert mask_email("") == ""


def test_api_normalises_and_refuses_a_bad_address_with_a_field_code(tenant_a, manager_a, api_as):
    client = api_as(manager_a)
    for bad, code in (
        ("not-an-address", "invalid_email"),
        ("zhang@", "invalid_email"),
        ("张伟@例子", "invalid_email"),
        ("a" * 250 + "@example.com", "max_length"),
    ):
        response = client.post(
            "/api/v1/customers/", {"name": "张伟", "phone": "13812345678", "email": bad}, format="json"
        )
        assert response.status_code == 400, bad
        body = response.json()
        assert body["codes"]["email"] == [code] and body["errors"]["email"], body
    with tenant_context(tenant_a):
        assert not Customer.objects.exists()
    response = client.post(
        "/api/v1/customers/",
        {"name": "张伟", "phone": "13812345678", "email": "  Zhang.Wei@Example.COM "},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["email_display"] == "zhang.wei@example.com"
    assert "email" not in response.json()  # write-only, like the phone
    with tenant_context(tenant_a):
        customer = Customer.objects.get()
    assert customer.email == "zhang.wei@example.com"
    cleared = client.patch(f"/api/v1/customers/{customer.pk}/", {"email": ""}, format="json")
    assert cleared.status_code == 200 and cleared.json()["email_display"] == ""
    with tenant_context(tenant_a):
        customer.refresh_from_db()
    assert customer.email == ""


def test_address_is_masked_for_staff_without_contact_rights(tenant_a, make_staff, api_as, session_client):
    owner, other = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        owned = CustomerFactory(tenant=tenant_a, owner=owner, email="zhang.wei@example.com")
        unowned = CustomerFactory(tenant=tenant_a, email="li.na@example.com")  # every rep sees it, masked
    assert api_as(owner).get(f"/api/v1/customers/{owned.pk}/").json()["email_display"] == (
        "zhang.wei@example.com"
    )
    assert api_as(other).get(f"/api/v1/customers/{unowned.pk}/").json()["email_display"] == "l***@example.com"
    listed = {
        row["id"]: row["email_display"] for row in api_as(other).get("/api/v1/customers/").json()["results"]
    }
    assert listed[unowned.pk] == "l***@example.com"
    page = session_client(other).get(reverse("customers:detail", args=[unowned.pk])).content.decode()
    assert "l***@example.com" in page and "li.na@example.com" not in page
    page = session_client(owner).get(reverse("customers:detail", args=[owned.pk])).content.decode()
    assert 'href="mailto:zhang.wei@example.com"' in page


def test_create_and_edit_forms_validate_and_save_the_address(tenant_a, manager_a, session_client):
    client = session_client(manager_a)
    fields = {"source_channel": "website", "customer_type": "new_house", "intent": "potential"}
    bad = client.post(
        reverse("customers:create"),
        {"name": "王芳", "phone": "13800000002", "email": "wrong@@example.com", **fields},
    )
    assert bad.status_code == 400 and "email" in bad.context["form"].errors
    created = client.post(
        reverse("customers:create"),
        {"name": "王芳", "phone": "13800000002", "email": "Wang.Fang@Example.com", **fields},
    )
    assert created.status_code == 302
    with tenant_context(tenant_a):
        customer = Customer.objects.get()
    assert customer.email == "wang.fang@example.com"
    assert client.get(reverse("customers:edit", args=[customer.pk])).context["form"]["email"].value() == (
        "wang.fang@example.com"
    )
    edited = client.post(
        reverse("customers:edit", args=[customer.pk]),
        {"name": "王芳", "phone": "13800000002", "email": "fang@example.org", **fields},
    )
    assert edited.status_code == 302
    with tenant_context(tenant_a):
        customer.refresh_from_db()
    assert customer.email == "fang@example.org"


@pytest.fixture
def intake(tenant_a, make_staff):
    cache.clear()
    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        key = settings_services.intake_key_rotate(tenant=tenant_a)
    client = APIClient()
    client.credentials(HTTP_X_INTAKE_KEY=key)
    return client


def test_intake_takes_an_optional_address_and_an_e_mail_opt_in(tenant_a, intake):
    bad = intake.post(
        "/api/v1/intake/", {"name": "访客", "phone": "13812345678", "email": "nope"}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["codes"]["email"] == ["invalid_email"]
    missing = intake.post(
        "/api/v1/intake/", {"name": "访客", "phone": "13812345678", "email_consent": True}, format="json"
    )
    assert missing.status_code == 400 and missing.json()["codes"]["email"] == ["email_required"]
    with tenant_context(tenant_a):
        assert not Customer.objects.exists()
    response = intake.post(
        "/api/v1/intake/",
        {"name": "访客", "phone": "13812345678", "email": "Visitor@Example.com", "email_consent": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    with tenant_context(tenant_a):
        customer = Customer.objects.get()
        consent = Consent.objects.get(customer=customer)
    assert customer.email == "visitor@example.com"
    assert (consent.channel, consent.state, consent.source) == (
        ConsentChannel.EMAIL,
        "granted",
        ConsentSource.INTAKE_FORM,
    )
    # A later inquiry never overwrites an address on file.
    intake.post(
        "/api/v1/intake/",
        {"name": "访客", "phone": "13812345678", "email": "someone.else@example.com"},
        format="json",
    )
    with tenant_context(tenant_a):
        customer.refresh_from_db()
    assert customer.email == "visitor@example.com"


def test_intake_without_an_address_still_works(tenant_a, intake):
    response = intake.post("/api/v1/intake/", {"name": "访客", "phone": "13812345679"}, format="json")
    assert response.status_code == 201
    with tenant_context(tenant_a):
        assert Customer.objects.get().email == ""
        assert not Consent.objects.exists()


def _csv(rows: list[list[str]]) -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile("customers.csv", ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv")


def test_import_reads_and_export_writes_the_address(tenant_a, manager_a, session_client):
    client = session_client(manager_a)
    rejected = client.post(
        reverse("customers:import"),
        {"file": _csv([["姓名", "手机号", "邮箱"], ["周杰", "13811110001", "zhou@"]])},
    )
    assert rejected.status_code == 400
    assert {(e["row"], e["field"]) for e in rejected.context["errors"]} == {(2, "email")}
    response = client.post(
        reverse("customers:import"),
        {"file": _csv([["姓名", "手机号", "邮箱"], ["周杰", "13811110001", "Zhou.Jie@Example.com"]])},
    )
    assert response.status_code == 302
    with tenant_context(tenant_a):
        assert Customer.objects.get().email == "zhou.jie@example.com"
    exported = client.get(reverse("customers:export"), {"format": "csv"}).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(exported)))
    assert rows[1][rows[0].index("邮箱")] == "zhou.jie@example.com"


def test_personal_data_export_carries_and_anonymisation_erases_the_address(
    tenant_a, manager_a, session_client
):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, email="zhang.wei@example.com")
    data = session_client(manager_a).get(reverse("customers:personal-data", args=[customer.pk])).json()
    assert data["email"] == "zhang.wei@example.com"
    with tenant_context(tenant_a):
        privacy.customer_anonymise(tenant=tenant_a, customer=customer, user=manager_a)
        customer.refresh_from_db()
    assert customer.email == ""


def test_service_reports_the_address_with_its_code(tenant_a):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        with pytest.raises(Exception) as error:
            customer_update(tenant=tenant_a, customer=customer, email="x@y")
    assert error.value.error_dict["email"][0].code == "invalid_email"
