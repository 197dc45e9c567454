"""The session's user + tenant come from Redis (crm/backends.py), yet every change applies at once."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm import backends
from crm.models import Role
from crm.tenancy import tenant_context
from tests.customers.factories import CustomerFactory
from tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db


def _user_statements(client, url: str = "/customers/") -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        status = client.get(url).status_code
    return status, [q["sql"] for q in captured.captured_queries if '"crm_user"' in q["sql"]]


def _warm(client) -> None:
    for _ in range(2):  # first sight: the process learns the tenant; second: the copy is stored
        assert client.get("/customers/").status_code == 200
    status, user_queries = _user_statements(client)
    assert status == 200 and not user_queries  # served from the copy


def test_the_copy_saves_the_user_statement(tenant_a, manager_a, session_client):
    _warm(session_client(manager_a))


def test_deactivated_user_is_logged_out_at_once(tenant_a, make_staff, session_client):
    user = make_staff(tenant_a, Role.MANAGER)
    client = session_client(user)
    _warm(client)
    user.is_active = False
    user.save()
    assert client.get("/customers/").status_code == 302


def test_role_change_applies_at_once(tenant_a, make_staff, session_client):
    user = make_staff(tenant_a, Role.MANAGER)
    client = session_client(user)
    _warm(client)
    assert client.get(reverse("customers:settings")).status_code == 200
    user.roles = [Role.SALES]
    user.save()
    assert client.get(reverse("customers:settings")).status_code == 403


def test_tenant_change_applies_at_once(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name="安居客户")
    client = session_client(manager_a)
    _warm(client)
    tenant_a.name = "安居家装（新名）"
    tenant_a.save()
    assert "安居家装（新名）" in client.get("/customers/").content.decode()
    tenant_a.is_active = False
    tenant_a.save()
    response = client.get("/customers/")  # signed out at once (the copy is not served), no error
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert client.get("/customers/").status_code == 302
    login = client.post(reverse("login"), {"username": manager_a.username, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200 and "所属公司的账号已停用" in login.content.decode()


def test_last_login_alone_keeps_the_copy(tenant_a, manager_a, session_client):
    client = session_client(manager_a)
    _warm(client)
    manager_a.save(update_fields=["last_login"])
    assert not _user_statements(client)[1]


def test_a_copy_stored_by_a_racing_request_is_not_served(tenant_a, make_staff, session_client):
    """A request that read the user before the deactivation committed stores the old row under the
    old generation: the bump at commit makes that copy invalid."""
    user = make_staff(tenant_a, Role.MANAGER)
    client = session_client(user)
    _warm(client)
    stale = cache.get(backends._entry_key(user.pk))
    user.is_active = False
    user.save()
    cache.set(backends._entry_key(user.pk), stale, 300)
    assert client.get("/customers/").status_code == 302


def test_lost_generations_never_revive_an_old_copy(tenant_a, make_staff, session_client):
    """Redis flushed the generations (or evicted them) but not the copy: they restart at a random
    value, so the old copy cannot match and the database decides."""
    user = make_staff(tenant_a, Role.MANAGER)
    client = session_client(user)
    _warm(client)
    cache.delete_many([backends._user_generation_key(user.pk), backends._tenant_generation_key(tenant_a.pk)])
    user.is_active = False
    user.save()  # the bump finds no generation to bump
    assert client.get("/customers/").status_code == 302
