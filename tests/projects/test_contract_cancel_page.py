"""Cancelling a contract from the project page: asks first (data-confirm), reason required, manager only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.tenancy import tenant_context
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_manager_cancels_a_signed_contract_after_confirming(session_client, tenant_a, tenant_b, people):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True, project_manager=people["pm"])
    url = reverse("projects:cancel", args=[project.pk])
    assert session_client(people["pm"]).post(url, {"reason": "客户反悔"}).status_code == 403
    client = session_client(people["manager"])
    page = client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    assert f'action="{url}" data-confirm="确定取消合同？' in page
    missing = client.post(url, {"reason": ""})
    assert missing.status_code == 400 and "errorlist" in missing.content.decode()
    assert client.post(url, {"reason": "客户反悔"}).status_code == 302
    with tenant_context(tenant_a):
        project.refresh_from_db()
    assert project.cancelled_at is not None and project.cancel_reason == "客户反悔"
    assert f'action="{url}"' not in client.get(reverse("projects:detail", args=[project.pk])).content.decode()
    with tenant_context(tenant_b):
        foreign = ProjectFactory(tenant=tenant_b, signed=True)
    assert client.post(reverse("projects:cancel", args=[foreign.pk]), {"reason": "x"}).status_code == 404
