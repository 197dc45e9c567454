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
