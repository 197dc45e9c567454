"""Helpers shared by several aftercare concerns."""

from __future__ import annotations

from crm.models import Tenant, User
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant


def _managers(tenant: Tenant) -> list[User]:
    return staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)
