"""Event subscribers of sales (registered in ``SalesConfig.ready``)."""

from __future__ import annotations

from crm.models import Tenant
from sales.services import follow_up_task_sync


def on_customer_follow_up_plan(*, tenant: Tenant, customer_id: int, **_: object) -> None:
    """``follow_up.created`` and ``customer.updated``: the planned next follow-up is the customer's
    open follow-up task (created, moved, handed to a new owner, or closed by a later touch)."""
    follow_up_task_sync(tenant=tenant, customer_id=customer_id)
