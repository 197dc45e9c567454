"""No inline style: the CSP's style-src is 'self' only, so no template may carry a style attribute
or a <style> element (the browser would refuse them and log an error)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from crm.models import Role

ROOT = Path(settings.BASE_DIR)


@pytest.mark.parametrize("path", ["/accounts/login/", "/customers/leads/", "/api/docs/", "/admin/"])
def test_style_src_is_self_only(path, tenant_a, make_staff, session_client):
    client = session_client(make_staff(tenant_a, Role.MANAGER, Role.ADMIN))
    response = client.get(path)
    assert response.status_code in (200, 302)
    header = response["Content-Security-Policy"]
    policy = {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}
    assert policy["style-src"] == ["'self'"]


def test_no_template_has_a_style_attribute_or_element():
    inline = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
    templates = sorted(ROOT.glob("*/templates/**/*.html")) + sorted((ROOT / "templates").rglob("*.html"))
    offenders = [
        str(template.relative_to(ROOT))
        for template in templates
        if ".venv" not in template.parts and inline.search(template.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_api_docs_page_has_no_inline_style(tenant_a, make_staff, session_client):
    body = session_client(make_staff(tenant_a, Role.MANAGER)).get("/api/docs/").content.decode()
    assert "<style" not in body and "css/swagger.css" in body
