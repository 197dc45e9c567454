from __future__ import annotations

import datetime

import pytest

from crm.models import Role
from crm.tenancy import tenant_context
from tests.aftercare.factories import HandedOverProjectFactory


@pytest.fixture
def handed_over(tenant_a):
    """``handed_over(on=date, **fields)`` -> a handed-over project of tenant A."""

    def make(on: datetime.date = datetime.date(2025, 3, 15), **fields):
        with tenant_context(tenant_a):
            return HandedOverProjectFactory(tenant=tenant_a, handed_over_on=on, **fields)

    return make


@pytest.fixture
def service_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SERVICE)


@pytest.fixture
def api_client_for(tenant_a, make_staff):
    """``api_client_for(user)`` -> APIClient with a token acting as ``user`` (created by an admin)."""
    from rest_framework.test import APIClient

    from crm.services import api_token_create

    admin = make_staff(tenant_a, Role.ADMIN, Role.MANAGER)

    def make(user) -> APIClient:
        with tenant_context(user.tenant):
            _, plaintext = api_token_create(tenant=user.tenant, created_by=admin, name="test", user=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
        client.user = user
        return client

    return make


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    """The public survey throttle counts in Redis (this helper's own db); start every test at zero."""
    from django.core.cache import cache

    cache.clear()
