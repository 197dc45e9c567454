"""Helpers shared by several customer concerns."""

from __future__ import annotations

from typing import Any

from crm.models import Tenant, User
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant


def _notify(**kwargs: Any) -> int:
    from crm.notifications.services import notify

    return notify(**kwargs)


def _notify_many(**kwargs: Any) -> dict[str, int]:
    from crm.notifications.services import notify_many

    return notify_many(**kwargs)


def _managers(tenant: Tenant) -> list[User]:
    return staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)
