"""Customer progress link (valid, revoked, expired, other project/tenant, SMS-code approval) and uploads."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from crm.hashed_secrets import hash_secret
from crm.notifications.models import SmsMessage
from crm.tenancy import tenant_context
from crm.uploads import max_image_bytes
from projects.models import DailyLog, Material, MaterialReport, ShareLink, SitePhoto
from projects.services import change_orders, logs, materials, share
from projects.services import photos as photos_services
from tests.projects.factories import ChangeOrderFactory, ProjectFactory, image_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(in_a, people):
    project = ProjectFactory(tenant=in_a, signed=True, name="翠湖天地 5-902")
    logs.daily_log_create(
        tenant=in_a,
        project=project,
        author=people["pm"],
        log_date=timezone.localdate(),
        work_done="卫生间闭水试验开始",
        photos=[image_upload()],
    )
    link, token = share.share_link_create(tenant=in_a, project=project, created_by=people["pm"])
    return project, link, token


def _url(token):
    return reverse("projects:progress", args=[token])


def test_valid_link_shows_only_its_project(client, in_a, people, shared, tenant_b):
    project, link, token = shared
    other = ProjectFactory(tenant=in_a, name="别家项目 1-101")
    logs.daily_log_create(
        tenant=in_a,
        project=other,
        author=people["pm"],
        log_date=timezone.localdate(),
        work_done="别家的日志内容",
    )
    with tenant_context(tenant_b):
        ProjectFactory(tenant=tenant_b, name="B公司项目")
    response = client.get(_url(token))
    body = response.content.decode()
    assert response.status_code == 200
    assert "翠湖天地 5-902" in body and "卫生间闭水试验开始" in body
    assert "别家" not in body and "B公司项目" not in body
    assert SitePhoto.objects.get().thumbnail.url in body


def test_link_token_is_unguessable_and_only_hash_stored(shared):
    _, link, token = shared
    assert len(token) >= 40
    assert token not in (link.key_hash, link.prefix) and link.key_hash == hash_secret(token)


def test_revoked_expired_and_unknown_links_are_dead(client, in_a, people, shared):
    project, link, token = shared
    assert client.get(_url("x" * 43)).status_code == 404
    share.share_link_revoke(tenant=in_a, link=link, revoked_by=people["pm"])
    assert client.get(_url(token)).status_code == 404
    _, token2 = share.share_link_create(tenant=in_a, project=project, created_by=people["pm"])
    assert client.get(_url(token2)).status_code == 200
    ShareLink.objects.filter(key_hash=hash_secret(token2)).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = client.get(_url(token2))
    assert response.status_code == 404 and "已失效" in response.content.decode()


def test_customer_approves_change_order_with_sms_code(client, in_a, people, shared):
    project, link, token = shared
    co = change_orders.change_order_create(
        tenant=in_a,
        project=project,
        created_by=people["pm"],
        title="增加吊顶",
        reason="客户要求",
        lines=[{"description": "吊顶", "quantity": 10, "unit_price_fen": 150}],
    )
    change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    step = reverse("projects:progress-change-order", args=[token, co.pk, "request"])
    response = client.post(step, {"decision": "approve"})
    assert response.status_code == 302  # post/redirect/get: a reload does not ask for another code
    page = client.get(response["Location"]).content.decode()
    assert 'name="code"' in page and "验证码已发送到您的手机" in page
    assert 'name="code"' in client.get(_url(token)).content.decode()  # a reload keeps the code box
    sms = SmsMessage.objects.get()
    assert sms.phone == project.customer.phone
    code = re.search(r"验证码 (\d{6})", sms.message).group(1)
    confirm = reverse("projects:progress-change-order", args=[token, co.pk, "confirm"])
    wrong = "000000" if code != "000000" else "111111"
    assert client.post(confirm, {"code": wrong}).status_code == 400
    co.refresh_from_db()
    assert co.status == "sent"
    assert co.codes.get().attempts == 1  # the failed attempt was kept
    wrong_page = client.post(confirm, {"code": wrong}).content.decode()
    assert "验证码不正确" in wrong_page and 'name="code"' in wrong_page  # the box stays to try again
    response = client.post(confirm, {"code": code})
    assert response.status_code == 302
    thanks = client.get(response["Location"]).content.decode()
    assert "您已批准变更单「增加吊顶」" in thanks and 'name="code"' not in thanks
    co.refresh_from_db()
    assert (co.status, co.decision_channel, co.decided_by) == ("approved", "customer_link", None)
    assert change_orders.project_budget(project=project) == project.contract_amount_fen + 1500
    assert client.post(confirm, {"code": code}).status_code == 400  # one-time


def test_code_attempts_are_limited(in_a, people, shared):
    project, link, _ = shared
    co = ChangeOrderFactory(tenant=in_a, project=project, status="sent")
    share.confirmation_code_request(tenant=in_a, link=link, change_order=co, decision="reject")
    for _ in range(share.CODE_MAX_ATTEMPTS):
        with pytest.raises(share.CodeRejected):
            share.confirmation_code_check(tenant=in_a, link=link, change_order=co, code="bad")
    code = re.search(r"(\d{6})", SmsMessage.objects.get().message).group(1)
    with pytest.raises(share.CodeRejected, match="失效"):
        share.confirmation_code_check(tenant=in_a, link=link, change_order=co, code=code)
    co.refresh_from_db()
    assert co.status == "sent"


def test_share_page_cannot_touch_another_projects_change_order(client, in_a, people, shared):
    _, _, token = shared
    other = ChangeOrderFactory(tenant=in_a, status="sent")
    url = reverse("projects:progress-change-order", args=[token, other.pk, "request"])
    assert client.post(url, {"decision": "approve"}).status_code == 404
    assert not SmsMessage.objects.exists()


def test_share_page_is_mobile_friendly(client, shared):
    body = client.get(_url(shared[2])).content.decode()
    assert 'name="viewport"' in body and "noindex" in body


# --- uploads -------------------------------------------------------------------------------


def _log(in_a, project, people, photos):
    return logs.daily_log_create(
        tenant=in_a,
        project=project,
        author=people["pm"],
        log_date=timezone.localdate(),
        work_done="水电开槽",
        photos=photos,
    )


def test_valid_photos_stored_with_thumbnails(in_a, people, project):
    log = _log(
        in_a,
        project,
        people,
        [image_upload("a.png", "PNG", size=(1200, 900)), image_upload("b.webp", "WEBP")],
    )
    photos = list(log.photos.all())
    assert len(photos) == 2
    for photo in photos:
        assert default_storage.exists(photo.image.name) and default_storage.exists(photo.thumbnail.name)
        assert photo.image.name.startswith(f"projects/{in_a.pk}/")
    from PIL import Image

    with default_storage.open(photos[0].thumbnail.name) as fh:
        assert max(Image.open(fh).size) <= 320
    assert (photos[0].width, photos[0].height) == (1200, 900)


def test_not_an_image_is_rejected_and_nothing_written(in_a, people, project):
    fake = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00 this is an exe", content_type="image/jpeg")
    with pytest.raises(Exception) as error:
        _log(in_a, project, people, [image_upload(), fake])
    assert "不是有效的图片" in str(error.value)
    assert DailyLog.objects.count() == 0 and SitePhoto.objects.count() == 0


def test_disallowed_format_too_big_and_too_many(in_a, people, project, settings):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="GIF"):
        _log(in_a, project, people, [image_upload("a.gif", "GIF")])
    with pytest.raises(ValidationError, match="最多"):
        _log(
            in_a,
            project,
            people,
            [image_upload(f"{i}.jpg") for i in range(photos_services.MAX_PHOTOS_PER_LOG + 1)],
        )
    big = image_upload()
    big.size = max_image_bytes() + 1
    with pytest.raises(ValidationError, match="10 MB"):
        _log(in_a, project, people, [big])
    assert DailyLog.objects.count() == 0


def test_material_report_must_be_pdf_or_image(in_a, people, project):
    material = materials.material_create(
        tenant=in_a,
        project=project,
        created_by=people["pm"],
        category="main",
        name="瓷砖",
        brand="马可波罗",
        quantity=45,
        unit="㎡",
    )
    pdf = SimpleUploadedFile("report.pdf", b"%PDF-1.4\n%test report\n", content_type="application/pdf")
    report = materials.material_report_add(tenant=in_a, material=material, title="放射性检测报告", file=pdf)
    assert default_storage.exists(report.file.name)
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        materials.material_report_add(
            tenant=in_a,
            material=material,
            title="假报告",
            file=SimpleUploadedFile("r.pdf", b"<html>", content_type="application/pdf"),
        )
    assert MaterialReport.objects.count() == 1 and Material.objects.count() == 1


def test_get_on_change_order_step_is_405_not_a_crash(client, in_a, people, shared):
    project, _, token = shared
    co = ChangeOrderFactory(tenant=in_a, project=project, status="sent")
    url = reverse("projects:progress-change-order", args=[token, co.pk, "request"])
    assert client.get(url).status_code == 405
    assert not SmsMessage.objects.exists()
