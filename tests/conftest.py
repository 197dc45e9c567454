"""Shared fixtures: two tenants, staff of every role, API clients authenticated by token."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import Role, Tenant
from crm.permissions import token_scopes_for
from crm.services import api_token_create
from crm.tenancy import tenant_context
from tests.factories import StaffFactory, TenantFactory


@pytest.fixture
def tenant_a(db) -> Tenant:
    return TenantFactory(name="安居家装", slug="anju")


@pytest.fixture
def tenant_b(db) -> Tenant:
    return TenantFactory(name="美宅装饰", slug="meizhai")


@pytest.fixture
def make_staff(db):
    def make(tenant: Tenant, *roles: str, **extra):
        return StaffFactory(tenant=tenant, roles=list(roles) or [Role.SALES], **extra)

    return make


@pytest.fixture
def manager_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.MANAGER)


@pytest.fixture
def admin_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.ADMIN, Role.MANAGER, is_staff=True)


@pytest.fixture
def admin_b(tenant_b, make_staff):
    return make_staff(tenant_b, Role.ADMIN, Role.MANAGER, is_staff=True)


@pytest.fixture
def token_client():
    """``token_client(user, scopes=None)`` -> an APIClient sending a fresh token acting as ``user``.

    Without ``scopes`` the token carries every scope the user's roles allow.
    """

    def make(user, scopes: list[str] | None = None) -> APIClient:
        with tenant_context(user.tenant):
            _, plaintext = api_token_create(
                tenant=user.tenant,
                created_by=user,
                name="test",
                user=user,
                scopes=token_scopes_for(user) if scopes is None else scopes,
            )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
        client.plaintext_token = plaintext
        return client

    return make


@pytest.fixture
def session_client(client):
    """``session_client(user)`` -> Django test client logged in as ``user`` (browser pages)."""

    def make(user):
        client.force_login(user, backend="crm.backends.TenantUserBackend")
        return client

    return make


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters (crm/ratelimit.py) live in Redis and every test client is 127.0.0.1:
    start each test with none, without flushing the database Celery shares."""
    from django.core.cache import cache

    from crm.ratelimit import KEY_PREFIX

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"*:{KEY_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_page_cache():
    """Cached badge counts, staff names and segment menus (crm/page_cache.py) are keyed by ids,
    which a re-created test database hands out again: start each test with none."""
    from django.core.cache import cache

    from crm.page_cache import page_cache_key

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"*:{page_cache_key('')}*", count=1000))  # this database's
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a page requested in English (LocaleMiddleware)
    leaves English active on the thread, which would translate the next test's messages."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)
