"""Survey dedupe is decided by the database, and a visit is completed together with its photos."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, connections, transaction
from PIL import Image

from aftercare.models import PlanStatus, Survey, Visit, VisitPhoto, VisitStatus
from aftercare.services import surveys, visits
from crm.models import Role
from crm.tenancy import tenant_context
from tests.aftercare.factories import VisitFactory
from tests.customers.factories import CustomerFactory


def _waiting_on_a_lock() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_survey_create_with_one_dedupe_key_gives_one_survey(tenant_a):
    """The first writer holds its uncommitted survey while the second runs past any read check
    and waits on the unique index; when the first commits, the second gets that same survey."""
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    first_inserted, release_first = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def create(name: str, hold: bool) -> None:
        try:
            with tenant_context(tenant_a), transaction.atomic():
                survey = surveys.survey_create(
                    tenant=tenant_a,
                    customer=customer,
                    kind="csat",
                    trigger="visit",
                    dedupe_key="visit-csat-race",
                    send_sms=False,
                )
                if hold:
                    first_inserted.set()
                    release_first.wait(timeout=30)
            results[name] = survey.pk
        except Exception as error:  # noqa: BLE001 - asserted below
            results[name] = error
        finally:
            connection.close()

    first = threading.Thread(target=create, args=("first", True))
    first.start()
    assert first_inserted.wait(timeout=30)
    second = threading.Thread(target=create, args=("second", False))
    second.start()
    deadline = time.monotonic() + 20
    while not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.05)
    release_first.set()
    first.join(timeout=30)
    second.join(timeout=30)
    assert isinstance(results["first"], int), results
    assert results["second"] == results["first"], results
    with tenant_context(tenant_a):
        assert Survey.objects.filter(dedupe_key="visit-csat-race").count() == 1


def _png(name: str) -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


@pytest.mark.django_db
def test_visit_page_is_not_completed_when_its_photos_cannot_be_saved(
    tenant_a, make_staff, session_client, settings, tmp_path
):
    me = make_staff(tenant_a, Role.SERVICE)
    with tenant_context(tenant_a):
        visit = VisitFactory(tenant=tenant_a)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.MEDIA_ROOT = str(blocker)  # every photo write now fails
    with pytest.raises(OSError):
        session_client(me).post(
            f"/aftercare/visits/{visit.pk}/complete/",
            {"check_0": "ok", "check_1": "ok", "findings": "已处理", "photos": _png("after.png")},
        )
    with tenant_context(tenant_a):
        visit = Visit.objects.select_related("plan").get(pk=visit.pk)
        assert visit.status == VisitStatus.SCHEDULED and visit.completed_at is None
        assert visit.plan.status != PlanStatus.COMPLETED
        assert not VisitPhoto.objects.exists() and not Survey.objects.exists()


@pytest.mark.django_db
def test_visit_complete_with_photos_is_all_or_nothing(tenant_a, make_staff, settings, tmp_path):
    """One service, one transaction: when a photo cannot be stored, the visit stays open
    (a task or API caller has no request transaction to fall back on)."""
    me = make_staff(tenant_a, Role.SERVICE)
    with tenant_context(tenant_a):
        visit = VisitFactory(tenant=tenant_a)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with tenant_context(tenant_a):
        settings.MEDIA_ROOT = str(blocker)
        with pytest.raises(OSError):
            visits.visit_complete(
                tenant=tenant_a, visit=visit, completed_by=me, findings="ok", photos=[_png("a.png")]
            )
        visit = Visit.objects.select_related("plan").get(pk=visit.pk)
        assert visit.status == VisitStatus.SCHEDULED and visit.plan.status != PlanStatus.COMPLETED
        assert not VisitPhoto.objects.exists() and not Survey.objects.exists()
        settings.MEDIA_ROOT = str(tmp_path / "media")
        done = visits.visit_complete(
            tenant=tenant_a, visit=visit, completed_by=me, findings="ok", photos=[_png("a.png")]
        )
        assert done.status == VisitStatus.COMPLETED and done.photos.count() == 1
