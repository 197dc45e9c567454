"""Uploads are bounded everywhere: size cap, pixel cap before decoding, type by content, no orphans.

Every upload endpoint (API and page) is driven with the same hostile files: an oversize photo, a
PNG whose header claims 13000×13000 pixels (a decompression bomb), and a text file named .jpg.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import JsonResponse
from django.urls import path
from PIL import ImageFile

from aftercare.models import TicketPhoto, VisitPhoto
from crm.models import Role
from crm.tenancy import tenant_context
from crm.uploads import remove_rolled_back_files
from projects.models import DailyLog, MaterialReport, SitePhoto
from tests.aftercare.factories import ServiceTicketFactory, VisitFactory
from tests.projects.factories import DailyLogFactory, MaterialFactory, ProjectFactory, image_upload

TEN_MB = 10 * 1024 * 1024


def oversize_jpeg(name: str = "big.jpg") -> SimpleUploadedFile:
    """A real JPEG padded past 10 MB (Pillow would happily open it)."""
    data = image_upload().read()
    return SimpleUploadedFile(name, data + b"\0" * (TEN_MB + 1 - len(data)), content_type="image/jpeg")


def bomb_png(name: str = "bomb.png", width: int = 13000, height: int = 13000) -> SimpleUploadedFile:
    """A few hundred bytes whose header claims width×height pixels; valid chunks and CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )
    return SimpleUploadedFile(name, body, content_type="image/png")


def text_named_jpg(name: str = "photo.jpg") -> SimpleUploadedFile:
    """Plain text (an X BitMap, which Pillow parses as an image) dressed up as a JPEG."""
    body = b"#define p_width 8\n#define p_height 8\nstatic char p_bits[] = {\n" + b"0x00, " * 8 + b"};\n"
    return SimpleUploadedFile(name, body, content_type="image/jpeg")


@pytest.fixture
def decoded_sizes(monkeypatch):
    """Sizes of every image Pillow decodes during the test (observes the library, changes nothing)."""
    seen: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self):
        seen.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return seen


@pytest.fixture
def targets(tenant_a):
    """One object per upload endpoint of the API."""
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
        return {
            "ticket": ServiceTicketFactory(tenant=tenant_a),
            "visit": VisitFactory(tenant=tenant_a),
            "log": DailyLogFactory(tenant=tenant_a, project=project),
            "project": project,
            "material": MaterialFactory(tenant=tenant_a, project=project),
        }


@pytest.fixture
def api(tenant_a, make_staff, token_client):
    return token_client(make_staff(tenant_a, Role.MANAGER, Role.SERVICE, Role.PROJECT_MANAGER))


# (url, field, extra form data) per endpoint
ENDPOINTS = {
    "ticket photo": (lambda t: f"/api/v1/aftercare/tickets/{t['ticket'].pk}/photos/", "image", {}),
    "visit photo": (lambda t: f"/api/v1/aftercare/visits/{t['visit'].pk}/photos/", "image", {}),
    "daily log photo": (lambda t: f"/api/v1/daily-logs/{t['log'].pk}/photos/", "upload", {}),
    "daily log create": (
        lambda t: "/api/v1/daily-logs/",
        "upload",
        {"log_date": "2025-01-02", "work_done": "吊顶", "workers_on_site": 2},
    ),
    "material report": (
        lambda t: f"/api/v1/materials/{t['material'].pk}/reports/",
        "file",
        {"title": "检测"},
    ),
}


def _post(api, targets, endpoint: str, upload: SimpleUploadedFile):
    url, field, extra = ENDPOINTS[endpoint]
    data = dict(extra)
    if endpoint == "daily log create":
        data["project"] = targets["project"].pk
    data[field] = upload
    return api.post(url(targets), data, format="multipart"), field


def _nothing_stored(tenant) -> bool:
    with tenant_context(tenant):
        return not (
            TicketPhoto.objects.exists()
            or VisitPhoto.objects.exists()
            or SitePhoto.objects.exists()
            or MaterialReport.objects.exists()
            or DailyLog.objects.count() > 1
        )


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_api_oversize_file_is_400_with_field_message(api, targets, tenant_a, endpoint):
    response, field = _post(api, targets, endpoint, oversize_jpeg())
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors and "10 MB" in str(errors[field])
    assert _nothing_stored(tenant_a)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_api_decompression_bomb_is_400_without_decoding(api, targets, tenant_a, endpoint, decoded_sizes):
    response, field = _post(api, targets, endpoint, bomb_png())
    assert response.status_code == 400, response.content
    assert "分辨率过大" in str(response.json()["errors"][field])
    assert (13000, 13000) not in decoded_sizes  # rejected from the header, never decoded
    assert _nothing_stored(tenant_a)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize(
    "make", [text_named_jpg, lambda: SimpleUploadedFile("a.jpg", b"hello", "image/jpeg")]
)
def test_api_wrong_type_by_content_is_400(api, targets, tenant_a, endpoint, make):
    response, field = _post(api, targets, endpoint, make())
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert _nothing_stored(tenant_a)


def test_api_a_good_photo_still_goes_through(api, targets, tenant_a):
    response, _field = _post(api, targets, "ticket photo", image_upload("ok.png", "PNG", size=(1200, 900)))
    assert response.status_code == 201, response.content
    response, _field = _post(api, targets, "daily log photo", image_upload("ok.webp", "WEBP"))
    assert response.status_code == 201, response.content


# --- pages -----------------------------------------------------------------------------------


def _ticket_page_post(client, project, photo):
    return client.post(
        "/aftercare/tickets/",
        {
            "project": project.pk,
            "category": "plumbing",
            "priority": "high",
            "description": "渗水",
            "photos": photo,
        },
    )


def test_page_ticket_photo_oversize_bomb_and_wrong_type_are_form_errors(
    tenant_a, make_staff, session_client, decoded_sizes
):
    client = session_client(make_staff(tenant_a, Role.SERVICE))
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    for photo, message in [
        (oversize_jpeg(), "10 MB"),
        (bomb_png(), "分辨率过大"),
        (text_named_jpg(), "仅支持 JPG、PNG、WebP"),
    ]:
        response = _ticket_page_post(client, project, photo)
        assert response.status_code == 400
        assert message in response.content.decode()
    assert (13000, 13000) not in decoded_sizes
    assert _nothing_stored(tenant_a)


def test_page_visit_photo_bomb_is_a_form_error(tenant_a, make_staff, session_client, decoded_sizes):
    client = session_client(make_staff(tenant_a, Role.SERVICE, Role.MANAGER))
    with tenant_context(tenant_a):
        visit = VisitFactory(tenant=tenant_a)
    response = client.post(
        f"/aftercare/visits/{visit.pk}/complete/", {"findings": "ok", "photos": bomb_png()}
    )
    assert response.status_code == 400
    assert "分辨率过大" in response.content.decode()
    assert (13000, 13000) not in decoded_sizes
    assert _nothing_stored(tenant_a)


def test_page_daily_log_bomb_is_a_form_error_without_decoding(
    tenant_a, make_staff, session_client, decoded_sizes
):
    client = session_client(make_staff(tenant_a, Role.PROJECT_MANAGER))
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    data = {"log_date": "2025-01-02", "work_done": "吊顶", "workers_on_site": 1, "photos": [bomb_png()]}
    response = client.post(f"/projects/{project.pk}/logs/", data)
    assert response.status_code == 400
    assert "分辨率过大" in response.content.decode()
    assert (13000, 13000) not in decoded_sizes
    with tenant_context(tenant_a):
        assert not DailyLog.objects.exists()


def test_page_material_report_bomb_and_oversize_show_the_reason(
    tenant_a, make_staff, session_client, decoded_sizes
):
    client = session_client(make_staff(tenant_a, Role.PROJECT_MANAGER))
    with tenant_context(tenant_a):
        material = MaterialFactory(tenant=tenant_a, project=ProjectFactory(tenant=tenant_a))
    url = f"/projects/{material.project_id}/materials/{material.pk}/reports/"
    big_pdf = SimpleUploadedFile("r.pdf", b"%PDF-1.4\n" + b"0" * TEN_MB, content_type="application/pdf")
    for upload, message in [(bomb_png(), "分辨率过大"), (big_pdf, "10 MB")]:
        response = client.post(url, {"title": "检测", "file": upload}, follow=True)
        assert message in response.content.decode()  # this page reports action errors as a message
    assert (13000, 13000) not in decoded_sizes
    assert _nothing_stored(tenant_a)


def test_customer_import_oversize_and_fake_xlsx_and_zip_bomb(tenant_a, manager_a, session_client):
    client = session_client(manager_a)
    big_csv = SimpleUploadedFile("c.csv", "姓名,手机号\n".encode() + b"a,1\n" * (5 * 1024 * 1024 // 4 + 1))
    response = client.post("/customers/import/", {"file": big_csv})
    assert response.status_code == 400 and "超过 5 MB" in response.content.decode()

    fake = SimpleUploadedFile("c.xlsx", "姓名,手机号\n张三,13800000000\n".encode())
    response = client.post("/customers/import/", {"file": fake})
    assert response.status_code == 400 and "内容与文件类型不符" in response.content.decode()

    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (60 * 1024 * 1024))
    assert packed.tell() < 1024 * 1024
    response = client.post("/customers/import/", {"file": SimpleUploadedFile("c.xlsx", packed.getvalue())})
    assert response.status_code == 400 and "解压后过大" in response.content.decode()


# --- no orphaned files after a rollback ---------------------------------------------------------


def _save_then_status(status: int):
    def view(request):
        name = default_storage.save("rollback-test/evidence.txt", ContentFile(b"written before failing"))
        return JsonResponse({"name": name}, status=status)

    return view


urlpatterns = [
    path("save-then-fail/", _save_then_status(400)),
    path("save-then-succeed/", _save_then_status(201)),
]


@pytest.mark.urls(__name__)
def test_file_saved_in_a_request_that_then_fails_is_removed(tenant_a, manager_a, session_client, settings):
    client = session_client(manager_a)
    failed = client.post("/save-then-fail/")
    assert failed.status_code == 400
    assert not os.path.exists(os.path.join(settings.MEDIA_ROOT, failed.json()["name"]))
    kept = client.post("/save-then-succeed/")
    assert kept.status_code == 201
    assert os.path.exists(os.path.join(settings.MEDIA_ROOT, kept.json()["name"]))
    default_storage.delete(kept.json()["name"])


@pytest.mark.django_db(transaction=True)
def test_rollback_removes_files_and_commit_keeps_them_even_if_another_hook_fails(settings):
    def stored(name: str) -> bool:
        return os.path.exists(os.path.join(settings.MEDIA_ROOT, name))

    with transaction.atomic():
        committed = default_storage.save("rollback-test/committed.txt", ContentFile(b"a"))
        with pytest.raises(RuntimeError), transaction.atomic():
            inner = default_storage.save("rollback-test/inner.txt", ContentFile(b"b"))
            raise RuntimeError("inner block fails")
    remove_rolled_back_files()
    assert stored(committed) and not stored(inner)

    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = default_storage.save("rollback-test/rolled-back.txt", ContentFile(b"c"))
        raise RuntimeError("whole transaction fails")
    remove_rolled_back_files()
    assert not stored(rolled_back)

    def failing_hook():
        raise ValueError("someone else's on_commit hook")

    with pytest.raises(ValueError), transaction.atomic():
        transaction.on_commit(failing_hook)
        survivor = default_storage.save("rollback-test/survivor.txt", ContentFile(b"d"))
    remove_rolled_back_files()
    assert stored(survivor)  # committed: the failing hook must not make it look rolled back
    for name in (committed, survivor):
        default_storage.delete(name)
