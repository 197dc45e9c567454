"""Engagement fixtures."""

from __future__ import annotations

import pytest

from crm.models import Role


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)
