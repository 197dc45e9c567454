"""The progress link's SMS codes: a daily cap per link, keyed hashes, and no live code for staff."""

from __future__ import annotations

import datetime
import hashlib
import re

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from crm.models import Role
from crm.notifications.models import SmsMessage
from projects.models import ConfirmationCode
from projects.services import share
from tests.projects.factories import ChangeOrderFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(in_a, people):
    project = ProjectFactory(tenant=in_a, signed=True)
    link, token = share.share_link_create(tenant=in_a, project=project, created_by=people["pm"])
    change_order = ChangeOrderFactory(tenant=in_a, project=project, status="sent")
    return link, token, change_order


def _age_codes(link, minutes: int) -> None:
    """Move the link's codes back in time (the one-a-minute rule is not what's under test)."""
    ConfirmationCode.objects.filter(share_link=link).update(
        created_at=timezone.now() - datetime.timedelta(minutes=minutes)
    )


@override_settings(PROJECTS_CONFIRMATION_CODES_PER_DAY=3)
def test_codes_per_link_are_capped_per_day(client, in_a, shared):
    """Before: one code a minute without a daily cap = 1,440 SMS and 7,200 guesses per link per day."""
    link, token, change_order = shared
    url = reverse("projects:progress-change-order", args=[token, change_order.pk, "request"])
    for _ in range(3):
        assert client.post(url, {"decision": "approve"}).status_code == 302
        _age_codes(link, minutes=2 + ConfirmationCode.objects.count())
    response = client.post(url, {"decision": "approve"})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 24 * 3600
    assert "上限" in response.content.decode()
    assert SmsMessage.objects.count() == 3
    # a day later the oldest code no longer counts
    ConfirmationCode.objects.filter(share_link=link).update(
        created_at=timezone.now() - datetime.timedelta(days=1, minutes=1)
    )
    assert client.post(url, {"decision": "approve"}).status_code == 302


def test_second_code_within_a_minute_is_429_with_retry_after(client, shared):
    link, token, change_order = shared
    url = reverse("projects:progress-change-order", args=[token, change_order.pk, "request"])
    assert client.post(url, {"decision": "reject"}).status_code == 302
    response = client.post(url, {"decision": "reject"})
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
    page = response.content.decode()
    assert "一分钟后再试" in page and 'name="code"' in page  # the code already sent can still be entered


def test_code_is_stored_as_a_keyed_hash(in_a, shared, settings):
    link, _, change_order = shared
    row = share.confirmation_code_request(
        tenant=in_a, link=link, change_order=change_order, decision="approve"
    )
    code = re.search(r"验证码 (\d{6})", SmsMessage.objects.get().message).group(1)
    assert code not in row.code_hash
    # a database copy alone doesn't give the code back by hashing all million candidates
    assert row.code_hash != hashlib.sha256(f"{link.pk}:{code}".encode()).hexdigest()
    assert row.code_hash == share.confirmation_code_hash(link, code)
    settings.SECRET_KEY = "another-" + settings.SECRET_KEY
    assert row.code_hash != share.confirmation_code_hash(link, code)


def test_sms_messages_api_does_not_show_a_live_code(in_a, shared, people, token_client, make_staff, tenant_a):
    link, _, change_order = shared
    share.confirmation_code_request(tenant=in_a, link=link, change_order=change_order, decision="approve")
    code = re.search(r"验证码 (\d{6})", SmsMessage.objects.get().message).group(1)
    manager = token_client(make_staff(tenant_a, Role.MANAGER))
    listed = manager.get("/api/v1/sms-messages/").json()["results"]
    assert len(listed) == 1
    assert code not in listed[0]["message"] and "验证码 ******" in listed[0]["message"]
    detail = manager.get(f"/api/v1/sms-messages/{listed[0]['id']}/").json()
    assert code not in detail["message"]
    # the customer still gets the code
    assert code in SmsMessage.objects.get().message


def test_rows_from_before_masking_hide_digit_runs(in_a, people, token_client, make_staff, tenant_a):
    SmsMessage.objects.create(
        tenant=in_a, phone="13812345678", message="验证码 123456，10 分钟内有效。", dedupe_key="old"
    )
    listed = token_client(make_staff(tenant_a, Role.MANAGER)).get("/api/v1/sms-messages/").json()["results"]
    assert listed[0]["message"] == "验证码 ******，10 分钟内有效。"


def test_admin_shows_the_masked_text_only(client, in_a, shared, admin_a):
    link, _, change_order = shared
    share.confirmation_code_request(tenant=in_a, link=link, change_order=change_order, decision="approve")
    sms = SmsMessage.objects.get()
    code = re.search(r"验证码 (\d{6})", sms.message).group(1)
    client.force_login(admin_a, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get(reverse("admin:notifications_smsmessage_change", args=[sms.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert "验证码 ******" in body and code not in body
