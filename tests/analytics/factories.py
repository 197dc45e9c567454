"""Analytics factories (registered for the cross-tenant probe)."""

from __future__ import annotations

import datetime

from analytics.models import SalesTarget
from crm.models import Role
from tests.factories import StaffFactory, probe_factory


@probe_factory(SalesTarget)
def _target(tenant) -> SalesTarget:
    user = StaffFactory(tenant=tenant, roles=[Role.SALES])
    return SalesTarget.objects.create(
        tenant=tenant, user=user, month=datetime.date(2025, 3, 1), contract_value_fen=100_000
    )
