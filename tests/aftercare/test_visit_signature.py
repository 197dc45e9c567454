"""Completing a visit on site: the customer's hand-drawn signature is kept as a photo; the service
workbench opens the completion form in one tap."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from aftercare.models import Visit
from aftercare.services.visits import SIGNATURE_CAPTION
from crm.models import Role
from crm.tenancy import tenant_context
from tests.aftercare.factories import MaintenancePlanFactory

pytestmark = pytest.mark.django_db


def _png(name: str, fmt: str = "PNG") -> SimpleUploadedFile:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (60, 20), "white").save(buffer, format=fmt)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=f"image/{fmt.lower()}")


def test_visit_completed_with_signature_and_photo_from_the_workbench(tenant_a, make_staff, session_client):
    me = make_staff(tenant_a, Role.SERVICE)
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a, assigned_to=me)
    client = session_client(me)
    when = (timezone.localtime() + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    client.post(f"/aftercare/plans/{plan.pk}/visits/", {"scheduled_at": when, "technician": me.pk})
    home = client.get("/").content.decode()
    assert f'href="/aftercare/plans/{plan.pk}/#complete" data-quick="visit"' in home
    page = client.get(f"/aftercare/plans/{plan.pk}/").content.decode()
    assert "data-signature-pad=" in page and 'name="signature_image"' in page
    with tenant_context(tenant_a):
        visit = Visit.objects.get(plan=plan)
    bad = client.post(
        f"/aftercare/visits/{visit.pk}/complete/",
        {"signature_image": SimpleUploadedFile("s.png", b"not a png")},
    )
    assert bad.status_code == 400
    done = client.post(
        f"/aftercare/visits/{visit.pk}/complete/",
        {
            "customer_confirmed": "on",
            "photos": _png("site.jpg", "JPEG"),
            "signature_image": _png("signature.png"),
        },
    )
    assert done.status_code == 302
    with tenant_context(tenant_a):
        captions = sorted(photo.caption for photo in Visit.objects.get(pk=visit.pk).photos.all())
    assert captions == ["", SIGNATURE_CAPTION]
    assert "visit-signature" in client.get(f"/aftercare/plans/{plan.pk}/").content.decode()
    assert 'data-quick="visit"' not in client.get("/").content.decode()  # done: off the workbench
