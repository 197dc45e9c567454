"""Event subscribers of the engagement app (registered in ``EngagementConfig.ready``)."""

from __future__ import annotations

from crm.models import Tenant
from engagement.services.scoring import leads_rescore


def on_lead_created(*, tenant: Tenant, lead_id: int, **payload) -> None:
    """Event handler: a new lead gets a score at once (from the stored model or the rules)."""
    leads_rescore(tenant=tenant, lead_ids=[lead_id])
