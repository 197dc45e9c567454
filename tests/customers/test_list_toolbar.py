"""``{% customer_list_toolbar %}`` writes exactly what the list's toolbar template wrote (the reference)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template import Context, Template
from django.utils import translation

import customers.views as views
from crm.models import Role
from crm.tenancy import tenant_context
from customers.services.segments import segment_save

pytestmark = pytest.mark.django_db

# The toolbar as ``customer_list.html`` wrote it before the tag.
REFERENCE = Template((Path(__file__).parent / "list_toolbar_reference.html").read_text())
TAG = Template("{% load customer_list %}{% customer_list_toolbar %}")


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES])
def test_toolbar_equals_the_toolbar_template(
    tenant_a, make_staff, session_client, monkeypatch, language, role
):
    manager = make_staff(tenant_a, Role.MANAGER)
    user = manager if role == Role.MANAGER else make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        chosen = segment_save(
            tenant=tenant_a, created_by=manager, name='高预算 <b>&"', filters={"budget_tier": ["high"]}
        )
        segment_save(tenant=tenant_a, created_by=manager, name="沉默's", filters={"q": "x"})
    captured: list[dict] = []
    original = views.render

    def capture(request, template_name, context=None, status=200):
        captured.append({**(context or {}), "request": request})
        return original(request, template_name, context, status=status)

    monkeypatch.setattr(views, "render", capture)
    client = session_client(user)
    client.cookies["crm_language"] = language
    urls = (
        "/customers/",
        "/customers/?q=王<五>%26\"'&budget_tier=high",
        f"/customers/?segment={chosen.pk}",
        "/customers/?_filters=1&lifecycle=lead",
    )
    for url in urls:
        captured.clear()
        response = client.get(url)
        assert response.status_code == 200
        context = captured[-1]
        with translation.override(language):
            reference = REFERENCE.render(Context(context))
            rendered = TAG.render(Context(context))
        assert rendered == reference, url
        assert rendered in response.content.decode()
        if role == Role.MANAGER:
            assert "format=xlsx" in rendered and "selected>" in rendered or "segment" not in url
        if "q=" in url:
            assert 'value="王&lt;五&gt;&amp;&quot;&#x27;"' in rendered
    assert ("customers/export/" in rendered) == (role == Role.MANAGER)
