from __future__ import annotations

import pytest

from crm import events
from crm.models import Role
from crm.tenancy import tenant_context
from tests.projects.factories import ProjectFactory


@pytest.fixture
def in_a(tenant_a):
    with tenant_context(tenant_a):
        yield tenant_a


@pytest.fixture
def people(tenant_a, make_staff):
    return {
        "manager": make_staff(tenant_a, Role.MANAGER),
        "designer": make_staff(tenant_a, Role.DESIGNER),
        "pm": make_staff(tenant_a, Role.PROJECT_MANAGER),
        "supervisor": make_staff(tenant_a, Role.SUPERVISOR),
        "sales": make_staff(tenant_a, Role.SALES),
        "service": make_staff(tenant_a, Role.SERVICE),
    }


@pytest.fixture
def project(in_a, people):
    return ProjectFactory(tenant=in_a, project_manager=people["pm"], designer=people["designer"])


@pytest.fixture
def recorded_events():
    """A real subscriber on every project event; removed afterwards."""
    seen: list[tuple[str, dict]] = []
    handlers = {}
    for name in (
        events.EventType.PROJECT_CONTRACT_SIGNED,
        events.EventType.PROJECT_HANDED_OVER,
        events.EventType.PROJECT_CONTRACT_CANCELLED,
    ):

        def handler(*, tenant, _name=name, **payload):
            seen.append((_name, {"tenant_id": tenant.pk, **payload}))

        handlers[name] = handler
        events.subscribe(name, handler)
    yield seen
    for name, handler in handlers.items():
        events.unsubscribe(name, handler)
