"""The CSP header is built once (crm.middleware.CachedPolicyCSPMiddleware) and equals django-csp's."""

from __future__ import annotations

from csp.utils import build_policy
from django.conf import settings
from django.test import override_settings

from crm.models import Role


def test_api_and_page_responses_carry_django_csps_own_header(
    tenant_a, manager_a, token_client, session_client
):
    expected = build_policy()
    assert "default-src 'self'" in expected
    for _ in range(2):  # built, then reused
        assert token_client(manager_a).get("/api/v1/customers/")["Content-Security-Policy"] == expected
        page = session_client(manager_a).get("/customers/")
        assert page["Content-Security-Policy"] == expected
        assert "Content-Security-Policy-Report-Only" not in page


def test_a_settings_change_rebuilds_the_header(tenant_a, make_staff, token_client):
    client = token_client(make_staff(tenant_a, Role.MANAGER))
    before = client.get("/api/v1/customers/")["Content-Security-Policy"]
    changed = {"DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": ["'self'"]}}
    with override_settings(
        CONTENT_SECURITY_POLICY=changed,
        CONTENT_SECURITY_POLICY_REPORT_ONLY={"DIRECTIVES": {"default-src": ["'none'"]}},
    ):
        response = client.get("/api/v1/customers/")
        assert response["Content-Security-Policy"] == build_policy() != before
        assert "img-src 'self';" in response["Content-Security-Policy"] + ";"
        assert response["Content-Security-Policy-Report-Only"] == "default-src 'none'"
    assert client.get("/api/v1/customers/")["Content-Security-Policy"] == before
