"""Helpers shared by several aftercare concerns."""

from __future__ import annotations

from crm.models import Role, Tenant, User
from crm.selectors import staff_of_tenant


def _managers(tenant: Tenant) -> list[User]:
    return staff_of_tenant(tenant=tenant, role=Role.MANAGER)
